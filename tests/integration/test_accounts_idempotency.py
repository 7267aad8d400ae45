"""Idempotency-Key on POST /api/accounts: replays, mismatches, scoping, expiry, and a duplicate in flight."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service.accounts import validation as rules
from service.auth.principal import Principal
from service.settings import Settings
from tests.identity import Tenants
from tests.integration import accounts_support as support
from tests.integration.accounts_support import Api, httpx_json, new_account, outbox, served


async def _counts(db: asyncpg.Connection) -> tuple[int, int]:
    return await db.fetchval("SELECT count(*) FROM accounts"), len(await outbox(db))


async def test_a_replay_returns_the_first_response_and_creates_nothing(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    body = new_account(tenants.a)
    first = await api.create(tenants.a.owner, body, **{"Idempotency-Key": "create-michael-1"})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers

    again = await api.create(tenants.a.owner, body, **{"Idempotency-Key": "create-michael-1"})

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await _counts(db) == (1, 1)
    # The same answer, shown in the format this request asks for.
    plain = await api.create(tenants.a.owner, body, support.JSON, **{"Idempotency-Key": "create-michael-1"})
    assert plain.json() == {k: v for k, v in first.json().items() if not k.startswith("@")}
    # Another user of the same organization gets the same answer: keys belong to the organization.
    colleague = Principal("another-owner", tenants.a.owner.roles, tenants.a.organization_id)
    replayed = await api.create(colleague, body, **{"Idempotency-Key": "create-michael-1"})
    assert replayed.json() == first.json()
    assert await _counts(db) == (1, 1)


async def test_a_replay_after_the_account_was_removed_is_still_the_first_response(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    """The stored answer is replayed as it was, not re-created: the key stays used for 24 hours."""
    body, key = new_account(tenants.a), {"Idempotency-Key": "create-then-remove"}
    first = await api.create(tenants.a.owner, body, **key)
    location = first.headers["location"]
    assert (await api.delete(tenants.a.owner, location)).status_code == 204

    again = await api.create(tenants.a.owner, body, **key)

    assert (again.status_code, again.headers["idempotent-replayed"]) == (201, "true")
    assert again.json() == first.json()
    assert (await api.get(tenants.a.owner, location)).status_code == 404
    assert [e["event_type"] for e in await outbox(db)] == ["account.connected", "account.removed"]


async def test_the_same_key_with_another_body_is_422(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert (await api.create(tenants.a.owner, new_account(tenants.a), **key)).status_code == 201

    response = await api.create(tenants.a.owner, new_account(tenants.a, name="Someone else"), **key)

    assert response.status_code == 422
    assert response.json()["violations"] == [
        {
            "propertyPath": "",
            "message": "This Idempotency-Key was already used with a different request.",
            "code": rules.IDEMPOTENCY_KEY_REUSED,
        }
    ]
    assert response.json()["detail"] == "This Idempotency-Key was already used with a different request."
    assert await _counts(db) == (1, 1)


async def test_key_order_inside_objects_does_not_make_another_request(api: Api, tenants: Tenants) -> None:
    key = {"Idempotency-Key": "k-order"}
    body = new_account(tenants.a, settings={"send": True, "receive": False})
    first = await api.create(tenants.a.owner, body, **key)
    reordered = dict(reversed(list(body.items()))) | {"settings": {"receive": False, "send": True}}
    again = await api.create(tenants.a.owner, reordered, **key)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


async def test_keys_are_scoped_per_organization_and_per_customer_client(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    key = {"Idempotency-Key": "shared-key"}
    first = await api.create(tenants.a.owner, new_account(tenants.a), **key)
    other_org = await api.create(tenants.b.owner, new_account(tenants.b), **key)
    assert other_org.status_code == 201 and other_org.json()["id"] != first.json()["id"]

    body = new_account(externalId="+15555550177")
    mine = await api.create(tenants.a.customer_of(0), body, **{"Idempotency-Key": "customer-key"})
    assert mine.status_code == 201
    # A customer of another client has keys of its own: the same key is a new request there.
    theirs = await api.create(tenants.a.customer_of(1), body, **{"Idempotency-Key": "customer-key"})
    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers
    assert await _counts(db) == (4, 4)


async def test_expired_keys_are_forgotten(api: Api, tenants: Tenants, db: asyncpg.Connection) -> None:
    key = {"Idempotency-Key": "old-key"}
    first = await api.create(tenants.a.owner, new_account(tenants.a), **key)
    expires = await db.fetchval("SELECT expires_at - created_at FROM idempotency_keys")
    assert expires.total_seconds() == 24 * 3600
    await db.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")

    response = await api.create(tenants.a.owner, new_account(tenants.a, externalId="+15555550111"), **key)

    assert response.status_code == 201 and response.json()["id"] != first.json()["id"]
    assert await db.fetchval("SELECT account_id::text FROM idempotency_keys") == response.json()["id"]


async def test_a_failed_request_does_not_use_up_its_key(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    key = {"Idempotency-Key": "retry-me"}
    rejected = await api.create(tenants.a.owner, new_account(tenants.a, name=""), **key)
    assert rejected.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    fixed = await api.create(tenants.a.owner, new_account(tenants.a), **key)
    assert fixed.status_code == 201


async def test_stored_keys_hold_a_keyed_hash_never_the_body(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    await api.create(tenants.a.owner, new_account(tenants.a), **{"Idempotency-Key": "k"})
    row = await db.fetchrow("SELECT request_hash, snapshot::text AS snapshot FROM idempotency_keys")
    assert len(row["request_hash"]) == 32
    assert support.CANARY not in row["snapshot"] and support.CANARY.encode() not in row["request_hash"]


@pytest.mark.parametrize("key", ["", " spaced key", "x" * 256, "tab\tkey", "clé".encode()])
async def test_malformed_keys_are_400(api: Api, tenants: Tenants, key: str | bytes) -> None:
    headers: dict[str, str | bytes] = {**api.headers(tenants.a.owner), "Content-Type": support.JSONLD}
    headers["Idempotency-Key"] = key
    body = httpx_json(new_account(tenants.a))
    response = await api.http.post("/api/accounts", content=body, headers=headers)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]


async def test_a_duplicate_while_the_first_runs_is_409_then_replays(
    api: Api, tenants: Tenants, db: asyncpg.Connection, settings: Settings
) -> None:
    body = httpx_json(new_account(tenants.a))
    headers = api.headers(tenants.a.owner) | {"Content-Type": support.JSONLD, "Idempotency-Key": "in-flight"}
    async with served(settings) as http:
        transaction = db.transaction()
        await transaction.start()
        # Inserting the account checks its client row: holding that row keeps the first request running.
        await db.execute("SELECT 1 FROM clients WHERE id = $1 FOR UPDATE", tenants.a.client_ids[0])
        first = asyncio.create_task(http.post("/api/accounts", content=body, headers=headers))
        await support.wait_for_lock_waiters(db, 1)

        duplicate = await http.post("/api/accounts", content=body, headers=headers)

        assert duplicate.status_code == 409
        assert duplicate.json()["detail"] == (
            "A request with this Idempotency-Key is still being processed; retry later."
        )
        await transaction.commit()
        created = await first
        assert created.status_code == 201
        replay = await http.post("/api/accounts", content=body, headers=headers)
    assert replay.status_code == 201 and replay.json() == created.json()
    assert await _counts(db) == (1, 1)
