"""The SPEC's account operations for every role against its own client, a sibling client and another
organization: the status code the SPEC gives, nothing changed on a refusal, nothing foreign shown."""

from dataclasses import dataclass
from itertools import count
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.auth.principal import Principal
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import new_account

Client = AsyncTestClient
TARGETS = ("own", "sibling", "foreign")
_external_ids = count(200)


@dataclass(frozen=True)
class World:
    tenants: Tenants
    accounts: dict[str, str]  # target → account id


@pytest.fixture
async def world(client: Client, tenants: Tenants, token_for: Any) -> World:
    """One account on client 0 of org a ("own"), client 1 of org a ("sibling"), client 0 of org b."""
    accounts = {}
    for target, tenant, index in [
        ("own", tenants.a, 0),
        ("sibling", tenants.a, 1),
        ("foreign", tenants.b, 0),
    ]:
        response = await client.post(
            "/api/accounts",
            json=new_account(tenant, index),
            headers={"Authorization": f"Bearer {token_for(tenant.owner)}", "Accept": "application/json"},
        )
        assert response.status_code == 201, response.text
        accounts[target] = response.json()["id"]
    return World(tenants, accounts)


def _caller(role: str, tenants: Tenants, token_for: Any) -> dict[str, str]:
    if role == "api key":
        return {"X-API-KEY": tenants.a.api_key}
    principal: Principal = {
        "owner": tenants.a.owner,
        "viewer": tenants.a.viewer,
        "customer": tenants.a.customer,  # client 0: "own"
        "worker": WORKER,
    }[role]
    return {"Authorization": f"Bearer {token_for(principal)}"}


MANAGER = {
    "list": ({"own", "sibling"}, 200),
    "show": {"own": 200, "sibling": 200, "foreign": 404},
    "credentials": dict.fromkeys(TARGETS, 403),
    "create": {"own": 201, "sibling": 201, "foreign": 400},
    "patch": {"own": 200, "sibling": 200, "foreign": 404},
    "delete": {"own": 204, "sibling": 204, "foreign": 404},
}
EXPECTED: dict[str, dict[str, Any]] = {
    "owner": MANAGER,
    "api key": MANAGER,
    "viewer": {
        "list": ({"own", "sibling"}, 200),
        "show": {"own": 200, "sibling": 200, "foreign": 404},
        "credentials": dict.fromkeys(TARGETS, 403),
        "create": dict.fromkeys(TARGETS, 403),
        "patch": dict.fromkeys(TARGETS, 403),
        "delete": dict.fromkeys(TARGETS, 403),
    },
    "customer": {
        "list": ({"own"}, 200),
        "show": {"own": 200, "sibling": 404, "foreign": 404},
        "credentials": dict.fromkeys(TARGETS, 403),
        "create": {"own": 201, "sibling": 400, "foreign": 400},
        "patch": {"own": 200, "sibling": 404, "foreign": 404},
        "delete": {"own": 204, "sibling": 404, "foreign": 404},
    },
    "worker": {
        "list": ({"own", "sibling", "foreign"}, 200),
        "show": dict.fromkeys(TARGETS, 200),
        "credentials": dict.fromkeys(TARGETS, 200),
        "create": dict.fromkeys(TARGETS, 403),
        "patch": dict.fromkeys(TARGETS, 200),  # status reports only
        "delete": dict.fromkeys(TARGETS, 403),
    },
}


async def _state(db: asyncpg.Connection) -> list[tuple[Any, ...]]:
    accounts = await db.fetch(
        "SELECT id, client_id, name, status, version, deleted_at, credentials FROM accounts ORDER BY id"
    )
    events = await db.fetchval("SELECT count(*) FROM outbox")
    return [tuple(row) for row in accounts] + [(events,)]


@pytest.mark.parametrize("role", list(EXPECTED))
async def test_account_matrix(
    client: Client, world: World, token_for: Any, db: asyncpg.Connection, role: str
) -> None:
    tenants, ids = world.tenants, world.accounts
    caller = _caller(role, tenants, token_for) | {"Accept": "application/json"}
    client_iris = {
        "own": f"/api/clients/{tenants.a.client_ids[0]}",
        "sibling": f"/api/clients/{tenants.a.client_ids[1]}",
        "foreign": f"/api/clients/{tenants.b.client_ids[0]}",
    }
    expected = EXPECTED[role]
    mismatches: list[str] = []

    async def check(name: str, target: str | None, want: int, method: str, path: str, **kwargs: Any) -> Any:
        before = await _state(db)
        response = await client.request(method, path, **kwargs)
        if response.status_code != want:
            got = f"{response.status_code} instead of {want}: {response.text[:200]}"
            mismatches.append(f"{name} {target or ''}: {got}")
        if response.status_code >= 400:
            assert await _state(db) == before, f"{role}: refused {name} {target} changed data"
        return response

    visible, status = expected["list"]
    listed = await check("list", None, status, "GET", "/api/accounts", headers=caller)
    assert {item["id"] for item in listed.json()} == {ids[t] for t in visible}

    for target in TARGETS:
        path = f"/api/accounts/{ids[target]}"
        shown = await check("show", target, expected["show"][target], "GET", path, headers=caller)
        if shown.status_code == 404:
            assert ids[target] not in shown.text
        await check(
            "credentials",
            target,
            expected["credentials"][target],
            "GET",
            f"{path}/credentials",
            headers=caller,
        )
        body = new_account(externalId=f"+1555555{next(_external_ids):04d}", client=client_iris[target])
        await check(
            "create", target, expected["create"][target], "POST", "/api/accounts", json=body, headers=caller
        )
        change = b'{"status": "connected"}' if role == "worker" else b'{"name": "Changed"}'
        patch_headers = caller | {"Content-Type": "application/merge-patch+json"}
        await check(
            "patch", target, expected["patch"][target], "PATCH", path, content=change, headers=patch_headers
        )

    for target in ("foreign", "sibling", "own"):
        path = f"/api/accounts/{ids[target]}"
        await check("delete", target, expected["delete"][target], "DELETE", path, headers=caller)

    assert not mismatches, f"{role}: " + "; ".join(mismatches)


async def test_worker_may_only_report_status(client: Client, world: World, token_for: Any) -> None:
    response = await client.patch(
        f"/api/accounts/{world.accounts['foreign']}",
        content=b'{"name": "Renamed by a worker"}',
        headers={
            "Authorization": f"Bearer {token_for(WORKER)}",
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert response.status_code == 400
