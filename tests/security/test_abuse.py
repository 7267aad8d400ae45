"""Abusive input on every operation the OpenAPI document lists: refused with the right 4xx, never a 500,
and nothing stored. Oversize bodies, deep nesting, long strings, invalid UTF-8, NUL, huge page sizes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import MAX_BODY_BYTES
from service.web.bodies import MAX_DEPTH
from tests.identity import PASSWORD, Tenants
from tests.integration.accounts_support import new_account
from tests.security.support import row_counts

Client = AsyncTestClient  # type: ignore[type-arg]
JSON_BODY = {"Content-Type": "application/json"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
# A login or refresh body that is not malformed (400) is a wrong login (401, then 429 once throttled).
LOGIN_REFUSALS = frozenset({400, 401, 429})
WEBHOOK = {"url": "https://hooks.example.com/accounts", "events": ["account.updated"]}


@dataclass(frozen=True)
class Operation:
    """A documented operation with a JSON body: its caller and a body it accepts, on rows that exist."""

    method: str
    template: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    refusals: frozenset[int] = frozenset({400})

    async def send(self, client: Client, content: bytes) -> Any:
        return await client.request(self.method, self.path, content=content, headers=self.headers)


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/api/docs/openapi.json")).json()
    return body


@pytest.fixture
async def operations(client: Client, tenants: Tenants, token_for: Callable[..., str]) -> list[Operation]:
    owner = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
    created = await client.post("/api/accounts", json=new_account(tenants.a), headers=owner)
    assert created.status_code == 201, created.text
    account = f"/api/accounts/{created.json()['id']}"
    login = await client.post(
        "/authentication/login_check", json={"username": tenants.b.owner_username, "password": PASSWORD}
    )
    client_path = f"/api/clients/{tenants.a.client_ids[1]}"
    api_key = {"X-API-KEY": tenants.a.api_key}
    hook = await client.post("/api/webhook_endpoints", json=WEBHOOK, headers=owner)
    assert hook.status_code == 201, hook.text
    endpoint = f"/api/webhook_endpoints/{hook.json()['id']}"
    return [
        Operation("POST", "/api/accounts", "/api/accounts", owner | JSON_BODY,
                  new_account(tenants.a, externalId="+15550001")),
        Operation("PATCH", "/api/accounts/{account_id}", account, owner | MERGE_PATCH,
                  {"name": "n", "settings": {"a": "b"}, "credentials": {"accessToken": "t"}}),
        Operation("POST", "/api/clients", "/api/clients", owner | JSON_BODY,
                  {"name": "n", "website": "https://n.example"}),
        Operation("PATCH", "/api/clients/{client_id}", client_path, owner | MERGE_PATCH,
                  {"name": "n", "website": "https://n.example"}),
        Operation("PATCH", "/api/organizations/{organization_id}",
                  f"/api/organizations/{tenants.a.organization_id}", owner | MERGE_PATCH,
                  {"allowedOrigins": ["https://inbox.example", "http://127.0.0.1:5173"]}),
        Operation("POST", "/api/tokens", "/api/tokens", api_key | JSON_BODY,
                  {"client": client_path, "subject": "host-user"}),
        Operation("POST", "/authentication/login_check", "/authentication/login_check", JSON_BODY,
                  {"username": tenants.a.viewer_username, "password": PASSWORD}, LOGIN_REFUSALS),
        Operation("POST", "/authentication/token/refresh", "/authentication/token/refresh", JSON_BODY,
                  {"refresh_token": login.json()["refresh_token"]}, LOGIN_REFUSALS),
        Operation("POST", "/authentication/token/revoke", "/authentication/token/revoke", JSON_BODY,
                  {"token": login.json()["token"]}),
        Operation("POST", "/api/webhook_endpoints", "/api/webhook_endpoints", owner | JSON_BODY,
                  WEBHOOK | {"clients": [client_path], "description": "CRM"}),
        Operation("PATCH", "/api/webhook_endpoints/{endpoint_id}", endpoint, owner | MERGE_PATCH,
                  {"url": "https://hooks.example.com/v2", "description": "CRM",
                   "events": ["account.removed"]}),
        Operation("POST", "/api/webhook_endpoints/{endpoint_id}/replay", f"{endpoint}/replay",
                  owner | JSON_BODY, {"since": "2000-01-01T00:00:00Z"}),
    ]  # fmt: skip


def test_every_operation_with_a_body_is_abused(document: dict[str, Any], operations: list[Operation]) -> None:
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    }
    assert documented == {(operation.method, operation.template) for operation in operations}


def _strings(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], bool]]:
    """Every string in a JSON value: (path to it, whether it is an object key)."""
    if isinstance(value, str):
        yield path, False
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), True
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _replaced(body: Any, path: tuple[Any, ...], is_key: bool, change: Callable[[str], str]) -> Any:
    """A copy of `body` with the string at `path` (or the key naming it) changed."""
    copy = json.loads(json.dumps(body))
    *parents, last = path
    container = copy
    for step in parents:
        container = container[step]
    if is_key:
        container[change(last)] = container.pop(last)
    else:
        container[last] = change(container[last])
    return copy


async def _refused(
    client: Client, db: asyncpg.Connection, operation: Operation, content: bytes, allowed: set[int]
) -> int:
    before = await row_counts(db)
    response = await operation.send(client, content)
    assert response.status_code in allowed, (operation.template, response.status_code, response.text[:300])
    assert await row_counts(db) == before, f"{operation.method} {operation.template} changed rows"
    return int(response.status_code)


async def test_invalid_utf8_anywhere_in_a_string_is_a_syntax_error(
    client: Client, db: asyncpg.Connection, operations: list[Operation]
) -> None:
    for operation in operations:
        for path, is_key in _strings(operation.body):
            body = _replaced(operation.body, path, is_key, lambda text: text + "\udcff")
            content = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogateescape")
            assert b"\xff" in content
            await _refused(client, db, operation, content, set(operation.refusals))


def _nested(depth: int) -> str:
    """JSON text of `depth` objects inside each other."""
    return '{"a":' * depth + "1" + "}" * depth


async def test_deeply_nested_json_is_refused_before_it_is_decoded(
    client: Client, db: asyncpg.Connection, operations: list[Operation]
) -> None:
    for operation in operations:
        for key in operation.body:
            for depth in (MAX_DEPTH, 5_000):
                # The body itself is one level: the value takes it past the limit.
                text = json.dumps(operation.body | {key: "NESTED"}).replace('"NESTED"', _nested(depth))
                await _refused(client, db, operation, text.encode(), {400})


async def test_json_as_deep_as_the_limit_is_accepted(
    client: Client, tenants: Tenants, token_for: Callable[..., str]
) -> None:
    owner = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
    body = json.dumps(new_account(tenants.a, metadata="NESTED"))
    text = body.replace('"NESTED"', _nested(MAX_DEPTH - 1))
    response = await client.post("/api/accounts", content=text.encode(), headers=owner | JSON_BODY)
    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == json.loads(_nested(MAX_DEPTH - 1))


def _query_parameters(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(collection path, parameter) for every query parameter of every documented GET."""
    for path, item in document["paths"].items():
        for parameter in item.get("get", {}).get("parameters", []):
            if parameter["in"] == "query":
                yield path, parameter


async def test_nul_in_any_query_parameter_is_a_400(
    client: Client, document: dict[str, Any], tenants: Tenants, token_for: Callable[..., str]
) -> None:
    owner = {"Authorization": f"Bearer {token_for(tenants.a.owner)}"}
    hook = await client.post("/api/webhook_endpoints", json=WEBHOOK, headers=owner)
    checked = set()
    for template, parameter in _query_parameters(document):
        path = template.replace("{endpoint_id}", hook.json()["id"])
        response = await client.get(path, params={parameter["name"]: "a\x00b"}, headers=owner)
        assert response.status_code == 400, (path, parameter["name"], response.text)
        checked.add(template)
    assert checked == {
        "/api/accounts",
        "/api/clients",
        "/api/integrations",
        "/api/webhook_endpoints",
        "/api/webhook_endpoints/{endpoint_id}/deliveries",
    }


async def test_nul_in_any_string_of_any_body_is_refused(
    client: Client, db: asyncpg.Connection, operations: list[Operation]
) -> None:
    for operation in operations:
        for path, is_key in _strings(operation.body):
            body = _replaced(operation.body, path, is_key, lambda text: f"{text}\x00")
            await _refused(client, db, operation, json.dumps(body).encode(), set(operation.refusals))


async def test_long_strings_are_refused_and_not_stored(
    client: Client, db: asyncpg.Connection, operations: list[Operation]
) -> None:
    for operation in operations:
        for path, is_key in _strings(operation.body):
            body = _replaced(operation.body, path, is_key, lambda text: text + "x" * 100_000)
            await _refused(client, db, operation, json.dumps(body).encode(), {*operation.refusals, 422})


async def test_bodies_over_the_cap_are_413(
    client: Client, db: asyncpg.Connection, operations: list[Operation]
) -> None:
    for operation in operations:
        # Valid JSON up to the end, so only its size is wrong.
        padding = "x" * (MAX_BODY_BYTES - len(json.dumps(operation.body)))
        content = json.dumps(operation.body | {"padding": padding}).encode()
        assert len(content) > MAX_BODY_BYTES
        await _refused(client, db, operation, content, {413})
        response = await operation.send(client, content)
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("value", ["101", "1000000", "1" + "0" * 40, "0", "-1", "1e3", "", "0x10", "½"])
async def test_page_sizes_outside_the_cap_are_400(
    client: Client, document: dict[str, Any], tenants: Tenants, token_for: Callable[..., str], value: str
) -> None:
    owner = {"Authorization": f"Bearer {token_for(tenants.a.owner)}"}
    hook = await client.post("/api/webhook_endpoints", json=WEBHOOK, headers=owner)
    sized = [path for path, parameter in _query_parameters(document) if parameter["name"] == "itemsPerPage"]
    assert set(sized) == {
        "/api/accounts",
        "/api/integrations",
        "/api/clients",
        "/api/webhook_endpoints",
        "/api/webhook_endpoints/{endpoint_id}/deliveries",
    }
    for path in (template.replace("{endpoint_id}", hook.json()["id"]) for template in sized):
        response = await client.get(path, params={"itemsPerPage": value}, headers=owner)
        assert response.status_code == 400, (path, value, response.text)
        assert "itemsPerPage" in response.json()["detail"]


async def test_a_burst_of_concurrent_guesses_gets_no_more_tries_than_the_limit(
    client: Client, tenants: Tenants, db: asyncpg.Connection
) -> None:
    """Login brute force: 30 guesses at once, under every spelling of the username the lookup accepts."""
    username = tenants.a.owner_username

    async def guess(index: int) -> int:
        spelled = username.upper() if index % 2 else username
        body = {"username": spelled, "password": f"guess {index}"}
        return int((await client.post("/authentication/login_check", json=body)).status_code)

    statuses = await asyncio.gather(*(guess(index) for index in range(30)))
    assert sorted(set(statuses)) == [401, 429]
    assert statuses.count(401) <= 5  # LOGIN_MAX_FAILURES
    # The right password does not get through the lockout either, and says when to come back.
    right = {"username": username, "password": PASSWORD}
    response = await client.post("/authentication/login_check", json=right)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "token" not in response.text
    assert await db.fetchval("SELECT count(*) FROM refresh_tokens") == 0
