"""What the API reads from headers and cursors is validated in full (400 with a problem body, never a
500); responses with a token or a secret are never cached; no response may be content-sniffed; page
numbers reach a bounded depth, cursors any."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.accounts.listing import Cursor, Ordering, decode_cursor
from service.errors import BadRequest
from service.web.pagination import DEFAULT_MAX_OFFSET
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import JSON, MERGE_PATCH, Api, new_account

PROBLEM = "application/problem+json"


def _problem(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def _cursor(*parts: Any) -> str:
    """A cursor as the service spells one, holding whatever parts it is given."""
    return base64.urlsafe_b64encode(msgspec.msgpack.encode(list(parts))).rstrip(b"=").decode()


NOW = datetime(2026, 1, 1, tzinfo=UTC)
FORGED_CURSORS = [
    _cursor(1, "name", False, None, "a\x00b", str(uuid.uuid4())),  # NUL: PostgreSQL text cannot hold it
    _cursor(1, "name", False, None, "n" * 5000, str(uuid.uuid4())),  # longer than any account name
    _cursor(1, "createdAt", False, "2026-01-01T00:00:00", None, str(uuid.uuid4())),  # no offset
    _cursor(1, "createdAt", False, NOW, "extra", str(uuid.uuid4())),  # a key of another ordering
    _cursor(1, "name", False, NOW, "a", str(uuid.uuid4())),
    _cursor(2, "createdAt", False, NOW, None, str(uuid.uuid4())),  # another version
    _cursor(1, "createdAt", False, NOW, None, "not-a-uuid"),
    _cursor(1, "createdAt", False, NOW, None),
    "%00",
]


async def test_forged_cursors_are_400_problems(api: Api, tenants: Tenants) -> None:
    owner = tenants.a.owner
    ordering = {"createdAt": "", "name": "&order[name]=asc"}
    for cursor in FORGED_CURSORS:
        for suffix in ordering.values():
            response = await api.get(owner, f"/api/accounts?cursor={cursor}{suffix}", JSON)
            _problem(response)


async def test_if_match_of_any_length_is_a_problem_not_a_500(api: Api, tenants: Tenants) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{created['id']}"
    for tag in ("9" * 5000, f'W/"{"9" * 5000}"', '"1", ' * 400):
        patch = await api.patch(tenants.a.owner, path, {"name": "x"}, JSON, MERGE_PATCH, **{"If-Match": tag})
        assert patch.status_code in (400, 412), patch.text
        _problem(patch, patch.status_code)
        removal = await api.delete(tenants.a.owner, path, **{"If-Match": tag})
        _problem(removal, removal.status_code)
    # Digits beyond what int() takes, yet short enough to be read: a stale version, 412.
    _problem(await api.patch(tenants.a.owner, path, {"name": "x"}, **{"If-Match": "9" * 1000}), 412)
    # Leading zeros still name the version.
    zeros = await api.patch(tenants.a.owner, path, {"name": "y"}, JSON, **{"If-Match": '"0001"'})
    assert zeros.status_code == 200, zeros.text


async def test_page_numbers_reach_a_bounded_depth_and_cursors_any(api: Api, tenants: Tenants) -> None:
    owner = tenants.a.owner
    deepest = DEFAULT_MAX_OFFSET // 100
    assert (await api.get(owner, f"/api/accounts?page={deepest}&itemsPerPage=100", JSON)).status_code == 200
    for query in (f"page={deepest + 1}&itemsPerPage=100", "page=334", "page=100000&itemsPerPage=1"):
        body = _problem(await api.get(owner, f"/api/accounts?{query}", JSON))
        assert "cursor=" in body["detail"]
    first = await api.get(owner, "/api/accounts?cursor=&itemsPerPage=100", JSON)
    assert first.status_code == 200


async def test_tokens_and_secrets_are_never_cached(api: Api, tenants: Tenants) -> None:
    http = api.http
    login = await http.post(
        "/authentication/login_check",
        json={"username": tenants.a.owner_username, "password": tenants.password},
    )
    assert login.status_code == 200 and login.headers["cache-control"] == "no-store"
    refresh = {"refresh_token": login.json()["refresh_token"]}
    refreshed = await http.post("/authentication/token/refresh", json=refresh)
    assert refreshed.status_code == 200 and refreshed.headers["cache-control"] == "no-store"
    minted = await http.post(
        "/api/tokens",
        json={"client": f"/api/clients/{tenants.a.client_ids[0]}", "subject": "user-1"},
        headers={"X-API-KEY": tenants.a.api_key},
    )
    assert minted.status_code == 201 and minted.headers["cache-control"] == "no-store"
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    credentials = await api.get(WORKER, f"/api/accounts/{created['id']}/credentials", JSON)
    assert credentials.status_code == 200 and credentials.headers["cache-control"] == "no-store"


async def test_every_response_forbids_content_sniffing(api: Api, tenants: Tenants) -> None:
    http = api.http
    responses = [
        await http.get("/healthz"),
        await http.get("/no/such/path"),
        await http.get("/api/accounts"),  # 401
        await http.post("/authentication/login_check", content=b"{", headers={"Content-Type": JSON}),
        await http.post("/authentication/login_check", json={"username": "x", "password": "y"}),
        await http.get("/api/docs/openapi.json"),
        await http.request("OPTIONS", "/api/accounts"),
        await api.get(tenants.a.owner, "/api/accounts"),
        await api.get(tenants.a.owner, f"/api/accounts/{uuid.uuid4()}"),
        await http.delete("/healthz"),  # 405
    ]
    for response in responses:
        assert response.headers.get("x-content-type-options") == "nosniff", (response.request.url, response)


orderings = st.builds(Ordering, st.sampled_from(["createdAt", "name"]), st.booleans())
parts = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=300),
    st.sampled_from(["name", "createdAt"]), st.datetimes(timezones=st.none() | st.just(UTC)),
    st.uuids().map(str), st.binary(max_size=8),
)  # fmt: skip


# Close to what the service writes, each part varied, and anything at all.
near_cursors = st.tuples(
    st.sampled_from([1, 2]) | parts,
    st.sampled_from(["name", "createdAt"]) | parts,
    st.booleans(),
    st.none() | st.datetimes(timezones=st.none() | st.just(UTC)) | parts,
    st.none() | st.text(max_size=300) | parts,
    st.uuids().map(str) | parts,
).map(list)
payloads = near_cursors | st.lists(parts, max_size=7)


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=payloads, ordering=orderings)
def test_forged_cursor_payloads_are_a_valid_cursor_or_a_400(payload: list[Any], ordering: Ordering) -> None:
    try:
        cursor = decode_cursor(_cursor(*payload), ordering)
    except BadRequest:
        return
    assert isinstance(cursor, Cursor)
    assert (cursor.field, cursor.descending) == (ordering.field, ordering.descending)
    key, _ = cursor.keyset()
    if cursor.field == "name":
        assert isinstance(key, str) and "\x00" not in key and len(key) <= 255 and cursor.created_at is None
    else:
        assert isinstance(key, datetime) and key.utcoffset() is not None and cursor.name is None


@pytest.mark.parametrize("cursor", FORGED_CURSORS, ids=[f"forged-{n}" for n in range(len(FORGED_CURSORS))])
def test_each_forged_cursor_is_refused_by_the_decoder(cursor: str) -> None:
    for ordering in (Ordering("createdAt"), Ordering("name")):
        with pytest.raises(BadRequest):
            decode_cursor(cursor, ordering)


HOSTILE_VALUES = [
    b"", b" ", b"\xff\xfe\x80", b"9" * 5000, b"Bearer", b"Bearer " + b"e" * 8000, b"Bearer a.b.c",
    b"Basic Zm9vOmJhcg==", b'W/"', b"*, *", b"\t,\t", "\u00e9t\u00e9".encode("latin-1"),
]  # fmt: skip
READ_HEADERS = ["Authorization", "X-API-KEY", "Accept", "Content-Type", "If-Match", "Idempotency-Key",
                "X-Request-ID"]  # fmt: skip


async def test_any_value_of_any_header_the_api_reads_is_answered_without_a_500(
    api: Api, tenants: Tenants
) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{created['id']}"
    owner = api.headers(tenants.a.owner, JSON)
    for name in READ_HEADERS:
        for value in HOSTILE_VALUES:
            for method, target, body in [
                ("GET", "/api/accounts", None),
                ("PATCH", path, b'{"name": "n"}'),
                ("POST", "/api/accounts", msgspec.json.encode(new_account(tenants.a))),
            ]:
                media = {"Content-Type": MERGE_PATCH if method == "PATCH" else JSON}
                headers: dict[str, str | bytes] = {**owner, **media, name: value}
                response = await api.http.request(method, target, content=body, headers=headers)
                assert response.status_code < 500, (name, value[:40], method, response.text)
                # Errors are problem documents, or LexikJWT's JSON for a refused credential (401).
                if response.status_code >= 400:
                    assert response.headers["content-type"].startswith((PROBLEM, JSON)), response.headers
