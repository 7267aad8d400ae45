"""Every error the accounts API answers, with its status and body, in both formats; none writes an event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from service.auth.principal import Role
from service.web import constraints
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import (
    JSON,
    JSONLD,
    Api,
    client_iri,
    new_account,
    outbox,
)


@pytest.fixture
async def no_new_events(db: asyncpg.Connection) -> AsyncIterator[None]:
    """The test's requests must leave the outbox as they found it."""
    before = len(await outbox(db))
    yield
    assert len(await outbox(db)) == before


def _problem(response: Any, status: int, detail: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if detail is not None:
        assert body["detail"] == detail
    return body


def _violations(response: Any) -> list[tuple[str, str, str]]:
    body = _problem(response, 422)
    return [(v["propertyPath"], v["message"], v["code"]) for v in body["violations"]]


@pytest.mark.usefixtures("no_new_events")
async def test_missing_required_fields_are_violations_in_api_platform_shape(
    api: Api, tenants: Tenants
) -> None:
    response = await api.create(tenants.a.owner, {"headline": "no name"})

    body = _problem(response, 422)
    assert body["@context"] == "/api/contexts/ConstraintViolation"
    assert body["@type"] == "ConstraintViolation"
    assert body["title"] == "An error occurred"
    assert body["type"] == f"/validation_errors/{constraints.NOT_BLANK}"
    assert body["detail"] == (
        "name: This value should not be blank.\n"
        "integration: This value should not be null.\n"
        "client: This value should not be null.\n"
        "credentials: This value should not be null."
    )
    assert _violations(response) == [
        ("name", constraints.BLANK, constraints.NOT_BLANK),
        ("integration", constraints.NULL, constraints.NOT_NULL),
        ("client", constraints.NULL, constraints.NOT_NULL),
        ("credentials", constraints.NULL, constraints.NOT_NULL),
    ]
    plain = await api.create(tenants.a.owner, {"headline": "no name"}, JSON)
    assert not [key for key in _problem(plain, 422) if key.startswith("@")]
    assert _violations(plain) == _violations(response)


@pytest.mark.usefixtures("no_new_events")
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "x" * 256}, [("name", constraints.too_long(255), constraints.TOO_LONG)]),
        ({"name": "   "}, [("name", constraints.BLANK, constraints.NOT_BLANK)]),
        ({"headline": "x" * 256}, [("headline", constraints.too_long(255), constraints.TOO_LONG)]),
        (
            {"avatar": "http://example.com/a.png"},
            [("avatar", "This value is not a valid URL.", constraints.INVALID_URL)],
        ),
        (
            {"avatar": "https://example.com/" + "a" * 2048},
            [("avatar", constraints.too_long(2048), constraints.TOO_LONG)],
        ),
        ({"externalId": ""}, [("externalId", constraints.BLANK, constraints.NOT_BLANK)]),
        (
            {"integration": "myspace"},
            [("integration", constraints.INVALID_CHOICE, constraints.NO_SUCH_CHOICE)],
        ),
        (
            {"integration": "/api/integrations/linkedin", "credentials": {"cookie": "x"}},
            [("integration", 'The integration "linkedin" is not available.', constraints.NO_SUCH_CHOICE)],
        ),
        (
            {"credentials": {"phoneNumberId": "1", "password": "x"}},
            [
                ("credentials[password]", "This field was not expected.", constraints.NO_SUCH_FIELD),
                ("credentials[accessToken]", "This field is missing.", constraints.MISSING_FIELD),
            ],
        ),
        (
            {"settings": {"blob": "x" * 16384}},
            [("settings", constraints.too_long(16384, "byte"), constraints.TOO_LONG)],
        ),
        (
            {"metadata": {"blob": "x" * 16384}},
            [("metadata", constraints.too_long(16384, "byte"), constraints.TOO_LONG)],
        ),
    ],
)
async def test_field_rules(api: Api, tenants: Tenants, fields: dict[str, Any], expected: list[Any]) -> None:
    response = await api.create(tenants.a.owner, new_account(tenants.a, **fields))
    assert _violations(response) == expected


@pytest.mark.usefixtures("no_new_events")
@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"id": str(uuid.uuid4())}, 'Extra attributes are not allowed ("id" is unknown).'),
        ({"version": 3}, 'Extra attributes are not allowed ("version" is unknown).'),
        ({"createdAt": "2025-01-01"}, 'Extra attributes are not allowed ("createdAt" is unknown).'),
        ({"provider": "whatsapp"}, 'Extra attributes are not allowed ("provider" is unknown).'),
        ({"statusReason": "x"}, 'Extra attributes are not allowed ("statusReason" is unknown).'),
        ({"nickname": "x"}, 'Extra attributes are not allowed ("nickname" is unknown).'),
        ({"name": 42}, 'The type of the "name" attribute must be "str | null", "int" given.'),
        ({"settings": ["a"]}, 'The type of the "settings" attribute must be "object | null", "array" given.'),
        (
            {"credentials": {"accessToken": 1}},
            'The type of the "credentials[...]" attribute must be "str", "int" given.',
        ),
        (
            {"status": "connected"},
            'The "status" attribute is read-only: a new account may only start "paused".',
        ),
        ({"name": "nul\u0000byte"}, 'The "name" attribute must not contain NUL characters.'),
        ({"settings": {"a": "b\u0000"}}, 'The "settings" attribute must not contain NUL characters.'),
        ({"client": "clients/1"}, 'Invalid IRI "clients/1".'),
    ],
)
async def test_malformed_bodies_are_400(
    api: Api, tenants: Tenants, body: dict[str, Any], detail: str
) -> None:
    response = await api.create(tenants.a.owner, new_account(tenants.a) | body)
    _problem(response, 400, detail)


@pytest.mark.usefixtures("no_new_events")
async def test_syntax_errors_and_non_objects_are_400(api: Api, tenants: Tenants) -> None:
    headers = api.headers(tenants.a.owner) | {"Content-Type": JSONLD}
    for raw, detail in [
        (b"{nope", "Syntax error: the request body is not valid JSON."),
        (b"[1, 2]", 'The request body must be a JSON object, "array" given.'),
        (b"", "Syntax error: the request body is not valid JSON."),
    ]:
        response = await api.http.post("/api/accounts", content=raw, headers=headers)
        _problem(response, 400, detail)


@pytest.mark.usefixtures("no_new_events")
async def test_clients_of_other_tenants_are_not_found(api: Api, tenants: Tenants) -> None:
    foreign = client_iri(tenants.b)
    response = await api.create(tenants.a.owner, new_account(tenants.a, client=foreign))
    _problem(response, 400, f'Item not found for "{foreign}".')
    sibling = client_iri(tenants.a, 1)
    response = await api.create(tenants.a.customer, new_account(client=sibling))
    _problem(response, 400, f'Item not found for "{sibling}".')
    unknown = f"/api/clients/{uuid.uuid4()}"
    response = await api.create(tenants.a.owner, new_account(client=unknown))
    _problem(response, 400, f'Item not found for "{unknown}".')


async def test_a_customer_may_name_its_own_client(api: Api, tenants: Tenants) -> None:
    response = await api.create(tenants.a.customer, new_account(client=client_iri(tenants.a, 0)))
    assert response.status_code == 201


async def test_external_id_is_unique_per_client_and_integration_among_live_accounts(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    assert (await api.create(tenants.a.owner, new_account(tenants.a))).status_code == 201
    events = len(await outbox(db))

    duplicate = await api.create(tenants.a.owner, new_account(tenants.a, name="Other"))

    assert _violations(duplicate) == [("externalId", constraints.ALREADY_USED, constraints.NOT_UNIQUE)]
    assert len(await outbox(db)) == events
    assert await db.fetchval("SELECT count(*) FROM accounts") == 1
    # Another client of the organization may connect the same number.
    assert (await api.create(tenants.a.owner, new_account(tenants.a, 1))).status_code == 201


async def test_unsupported_media_types_are_415(api: Api, tenants: Tenants, db: asyncpg.Connection) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{created['id']}"
    events = len(await outbox(db))
    headers = api.headers(tenants.a.owner) | {"Content-Type": "text/plain"}

    response = await api.http.post("/api/accounts", content=b"{}", headers=headers)
    _problem(response, 415)
    assert "application/ld+json" in response.json()["detail"]
    for content_type in (JSON, JSONLD, "text/plain"):
        response = await api.patch(tenants.a.owner, path, {"name": "x"}, content_type=content_type)
        body = _problem(response, 415)
        assert body["detail"] == (
            f'The content-type "{content_type}" is not supported. '
            'Supported MIME types are "application/merge-patch+json".'
        )
    assert (await api.patch(tenants.a.owner, path, b"", content_type=JSON)).status_code == 415
    assert len(await outbox(db)) == events


@pytest.mark.usefixtures("no_new_events")
async def test_unknown_accept_is_406(api: Api, tenants: Tenants) -> None:
    response = await api.get(tenants.a.owner, "/api/accounts", "text/html")
    _problem(response, 406)


@pytest.mark.usefixtures("no_new_events")
async def test_missing_or_bad_tokens_are_401_in_lexik_shape(api: Api) -> None:
    for method, path in [
        ("GET", "/api/accounts"),
        ("GET", f"/api/accounts/{uuid.uuid4()}"),
        ("POST", "/api/accounts"),
        ("PATCH", f"/api/accounts/{uuid.uuid4()}"),
        ("DELETE", f"/api/accounts/{uuid.uuid4()}"),
        ("GET", f"/api/accounts/{uuid.uuid4()}/credentials"),
        ("GET", "/api/integrations"),
    ]:
        response = await api.http.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json() == {"code": 401, "message": "JWT Token not found"}
    bad = await api.http.get("/api/accounts", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    assert bad.json() == {"code": 401, "message": "Invalid JWT Token"}


async def test_roles_that_may_not_act_get_403(api: Api, tenants: Tenants, db: asyncpg.Connection) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{created['id']}"
    events = len(await outbox(db))
    viewer = tenants.a.viewer

    _problem(await api.create(viewer, new_account(tenants.a, externalId="2")), 403, "Access Denied.")
    _problem(await api.patch(viewer, path, {"name": "x"}), 403, "Access Denied.")
    _problem(await api.delete(viewer, path), 403, "Access Denied.")
    _problem(await api.create(WORKER, new_account(tenants.a, externalId="2")), 403)
    _problem(await api.delete(WORKER, path), 403)
    for who in (tenants.a.owner, viewer, tenants.a.customer):
        _problem(await api.get(who, f"{path}/credentials"), 403, "Access Denied.")
    assert len(await outbox(db)) == events
    assert (await api.get(viewer, path)).status_code == 200


async def test_ids_of_other_tenants_and_clients_are_404(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a, 1))
    path = f"/api/accounts/{created['id']}"
    events = len(await outbox(db))
    outsiders = (tenants.b.owner, tenants.b.viewer, tenants.b.customer, tenants.a.customer_of(0))

    for who in outsiders:
        _problem(await api.get(who, path), 404, "Not Found")
        assert (await api.get(who, "/api/accounts", JSON)).json() == []
        if Role.VIEWER not in who.roles:
            _problem(await api.patch(who, path, {"name": "stolen"}), 404)
            _problem(await api.delete(who, path), 404)
    assert len(await outbox(db)) == events
    assert (await api.get(tenants.a.customer_of(1), path)).status_code == 200
    assert (await api.get(tenants.a.owner, path, JSON)).json()["name"] == created["name"]


@pytest.mark.usefixtures("no_new_events")
async def test_problems_carry_json_ld_keys_only_when_json_ld_is_asked(api: Api, tenants: Tenants) -> None:
    path = f"/api/accounts/{uuid.uuid4()}"
    linked = _problem(await api.get(tenants.a.owner, path), 404, "Not Found")
    assert linked == {
        "@context": "/api/contexts/Error",
        "@id": "/api/errors/404",
        "@type": "Error",
        "type": "/errors/404",
        "title": "An error occurred",
        "status": 404,
        "detail": "Not Found",
        "description": "Not Found",
    }
    plain = _problem(await api.get(tenants.a.owner, path, JSON), 404, "Not Found")
    assert plain == {k: v for k, v in linked.items() if not k.startswith("@") and k != "description"}
    forbidden = _problem(await api.get(tenants.a.viewer, f"{path}/credentials", JSON), 403, "Access Denied.")
    assert not [key for key in forbidden if key.startswith("@")]


@pytest.mark.usefixtures("no_new_events")
@pytest.mark.parametrize("account_id", [str(uuid.uuid4()), "not-a-uuid", "1", "%00"])
async def test_unknown_ids_are_404(api: Api, tenants: Tenants, account_id: str) -> None:
    path = f"/api/accounts/{account_id}"
    _problem(await api.get(tenants.a.owner, path), 404)
    _problem(await api.patch(tenants.a.owner, path, {"name": "x"}), 404)
    _problem(await api.delete(tenants.a.owner, path), 404)
    _problem(await api.get(WORKER, f"{path}/credentials"), 404)
