"""Every role x every client operation x own tenant / other organization / other client."""

from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.identity import WORKER, Tenants

Client = AsyncTestClient
PATCH = {"Content-Type": "application/merge-patch+json"}


@dataclass(frozen=True, eq=False)
class Operation:
    name: str
    method: str
    target: str  # "collection", "own" (client 0 of org a), "sibling" (client 1 of org a), "foreign" (org b)
    body: bytes | None = None
    headers: dict[str, str] | None = None


LIST = Operation("list", "GET", "collection")
SHOW = Operation("show", "GET", "own")
SHOW_SIBLING = Operation("show other client", "GET", "sibling")
SHOW_FOREIGN = Operation("show other organization", "GET", "foreign")
CREATE = Operation("create", "POST", "collection", b'{"name": "New"}', {"Content-Type": "application/json"})
PATCH_OWN = Operation("patch", "PATCH", "own", b'{"name": "Changed"}', PATCH)
PATCH_SIBLING = Operation("patch other client", "PATCH", "sibling", b'{"name": "Changed"}', PATCH)
PATCH_FOREIGN = Operation("patch other organization", "PATCH", "foreign", b'{"name": "Changed"}', PATCH)
DELETE_FOREIGN = Operation("delete other organization", "DELETE", "foreign")
DELETE_SIBLING = Operation("delete other client", "DELETE", "sibling")
DELETE_OWN = Operation("delete", "DELETE", "own")
# Destructive operations last, so each one runs against the fixture's rows.
OPERATIONS = [
    LIST,
    SHOW,
    SHOW_SIBLING,
    SHOW_FOREIGN,
    CREATE,
    PATCH_OWN,
    PATCH_SIBLING,
    PATCH_FOREIGN,
    DELETE_FOREIGN,
    DELETE_SIBLING,
    DELETE_OWN,
]

MANAGER = {
    LIST: 200,
    SHOW: 200,
    SHOW_SIBLING: 200,
    SHOW_FOREIGN: 404,
    CREATE: 201,
    PATCH_OWN: 200,
    PATCH_SIBLING: 200,
    PATCH_FOREIGN: 404,
    DELETE_FOREIGN: 404,
    DELETE_SIBLING: 204,
    DELETE_OWN: 204,
}
VIEWER = {op: 403 for op in OPERATIONS} | {LIST: 200, SHOW: 200, SHOW_SIBLING: 200, SHOW_FOREIGN: 404}
NOBODY = dict.fromkeys(OPERATIONS, 403)

EXPECTED = {"owner": MANAGER, "api key": MANAGER, "viewer": VIEWER, "customer": NOBODY, "worker": NOBODY}


def _credentials(role: str, tenants: Tenants, token_for: Any) -> dict[str, str]:
    if role == "api key":
        return {"X-API-KEY": tenants.a.api_key}
    principal = {
        "owner": tenants.a.owner,
        "viewer": tenants.a.viewer,
        "customer": tenants.a.customer,  # a customer of client 0 ("own")
        "worker": WORKER,
    }[role]
    return {"Authorization": f"Bearer {token_for(principal)}"}


def _path(operation: Operation, tenants: Tenants) -> str:
    return {
        "collection": "/api/clients",
        "own": f"/api/clients/{tenants.a.client_ids[0]}",
        "sibling": f"/api/clients/{tenants.a.client_ids[1]}",
        "foreign": f"/api/clients/{tenants.b.client_ids[0]}",
    }[operation.target]


async def _state(db: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await db.fetch("SELECT id, organization_id, name, website, updated_at FROM clients ORDER BY id")
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("role", list(EXPECTED))
async def test_matrix(
    client: Client, tenants: Tenants, token_for: Any, db: asyncpg.Connection, role: str
) -> None:
    credentials = _credentials(role, tenants, token_for)
    foreign_ids = {str(c) for c in tenants.b.client_ids}
    mismatches = []
    for operation in OPERATIONS:
        before = await _state(db)
        response = await client.request(
            operation.method,
            _path(operation, tenants),
            content=operation.body,
            headers=credentials | (operation.headers or {}) | {"Accept": "application/json"},
        )
        expected = EXPECTED[role][operation]
        if response.status_code != expected:
            mismatches.append(f"{operation.name}: {response.status_code} instead of {expected}")
        if response.status_code >= 400:
            assert await _state(db) == before, f"{role} / {operation.name} changed data while refused"
            text = response.text
            assert not any(foreign in text for foreign in foreign_ids), "another organization's id leaked"
        elif operation is LIST:
            listed = {item["id"] for item in response.json()}
            assert listed == {str(c) for c in tenants.a.client_ids}, "the list crossed the tenant boundary"
    assert not mismatches, f"{role}: " + "; ".join(mismatches)


async def test_other_organization_rows_are_untouched_by_its_neighbour(
    client: Client, tenants: Tenants, token_for: Any, db: asyncpg.Connection
) -> None:
    before = await db.fetch(
        "SELECT * FROM clients WHERE organization_id = $1 ORDER BY id", tenants.b.organization_id
    )
    owner = {"Authorization": f"Bearer {token_for(tenants.a.owner)}"}
    for client_id in tenants.b.client_ids:
        path = f"/api/clients/{client_id}"
        assert (await client.get(path, headers=owner)).status_code == 404
        assert (await client.patch(path, content=b'{"name":"x"}', headers=owner | PATCH)).status_code == 404
        assert (await client.delete(path, headers=owner)).status_code == 404
    after = await db.fetch(
        "SELECT * FROM clients WHERE organization_id = $1 ORDER BY id", tenants.b.organization_id
    )
    assert after == before


@pytest.mark.parametrize(
    ("role", "target", "expected"),
    [
        ("api key", "own", 201),
        ("api key", "sibling", 201),
        ("api key", "foreign", 400),
        ("owner", "own", 403),
        ("viewer", "own", 403),
        ("customer", "own", 403),
        ("customer", "sibling", 403),
        ("worker", "own", 403),
    ],
)
async def test_customer_token_matrix(
    client: Client, tenants: Tenants, token_for: Any, role: str, target: str, expected: int
) -> None:
    client_id = {
        "own": tenants.a.client_ids[0],
        "sibling": tenants.a.client_ids[1],
        "foreign": tenants.b.client_ids[0],
    }[target]
    response = await client.post(
        "/api/tokens",
        json={"client": f"/api/clients/{client_id}", "subject": "host-user"},
        headers=_credentials(role, tenants, token_for),
    )
    assert response.status_code == expected
    if expected != 201:
        assert "token" not in response.json()
