"""A writer stalls inside its transaction, holding an account's row: writes to that account fail fast (503)
instead of hanging, the rest of the API and the relay go on, and once the server's idle-in-transaction
timeout ends the stalled session nothing of it remains and the account's events flow again."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import asyncpg
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.db.pool import Database, create_pool
from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import event_settings, record_change_event, running_relay, wait_until
from tests.identity import Tenants
from tests.integration.accounts_support import new_account

STATEMENT_TIMEOUT_MS = 1000
IDLE_TIMEOUT_MS = 8000
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
IDLE = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'"


async def _stall(settings: Settings, account_id: str, started: asyncio.Event) -> BaseException | None:
    """What a request that hangs after writing does: change the account and write its event, then idle."""
    db = Database(await create_pool(settings, min_size=1, max_size=1), settings.db_acquire_timeout)
    try:
        async with db.transaction() as connection:
            row = await connection.fetchrow(
                "UPDATE accounts SET name = 'never committed', version = version + 1 WHERE id = $1::uuid"
                " RETURNING *",
                account_id,
            )
            await record_change_event(connection, "account.updated", row, ["name"])
            started.set()
            await asyncio.sleep(IDLE_TIMEOUT_MS / 1000 + 1)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return exc
    finally:
        await db.close()
    return None


async def test_a_stalled_transaction_is_ended_and_the_account_recovers(
    settings: Settings, tenants: Tenants, token_for: Callable[..., str], db: asyncpg.Connection
) -> None:
    mine = event_settings(
        settings,
        db_statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        db_idle_in_transaction_timeout_ms=IDLE_TIMEOUT_MS,
    )
    await ensure_topics(mine)
    owner = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
    database = await db.fetchval("SELECT current_database()")
    async with AsyncTestClient(app=create_app(mine)) as client, running_relay(mine):
        stuck, other = [
            (await client.post("/api/accounts", json=new_account(tenants.a, externalId=f"+1555000{i}"),
                               headers=owner)).json()["id"]
            for i in range(2)
        ]  # fmt: skip
        started = asyncio.Event()
        stall = asyncio.create_task(_stall(mine, stuck, started))
        await asyncio.wait_for(started.wait(), 30)

        # The stalled account: a fast, retryable refusal, not a hang and not a 500.
        began = time.monotonic()
        path = f"/api/accounts/{stuck}"
        blocked = await client.patch(path, content=b'{"name": "x"}', headers=owner | MERGE_PATCH)
        assert blocked.status_code == 503, blocked.text
        assert blocked.headers["retry-after"] == "1"
        assert time.monotonic() - began < STATEMENT_TIMEOUT_MS / 1000 + 2
        # Everything else goes on, events included.
        for i in range(3):
            changed = await client.patch(
                f"/api/accounts/{other}", content=f'{{"name": "n{i}"}}'.encode(), headers=owner | MERGE_PATCH
            )
            assert changed.status_code == 200, changed.text
        await wait_until(lambda: _published(db, other, 4), timeout=30)
        assert await db.fetchval(IDLE, database) == 1, "the stalled transaction ended too early to tell"

        # The server ends the stalled session; its change and its event are gone, the account is free.
        ended = await asyncio.wait_for(stall, 30)
        assert isinstance(ended, asyncpg.IdleInTransactionSessionTimeoutError | asyncpg.InterfaceError), ended
        assert await db.fetchval("SELECT name FROM accounts WHERE id = $1::uuid", stuck) == "Michael Scott"
        resumed = await client.patch(path, content=b'{"name": "y"}', headers=owner | MERGE_PATCH)
        assert resumed.status_code == 200 and resumed.json()["version"] == 2, resumed.text
        await wait_until(lambda: _published(db, stuck, 2), timeout=30)
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    versions = await db.fetch(
        "SELECT account_version FROM outbox WHERE account_id = $1::uuid ORDER BY position", stuck
    )
    assert [row["account_version"] for row in versions] == [1, 2]
    assert await db.fetchval(IDLE, database) == 0


async def _published(db: asyncpg.Connection, account_id: str, versions: int) -> bool:
    query = "SELECT count(*) FROM outbox WHERE account_id = $1 AND published_at IS NOT NULL"
    count = await db.fetchval(query, uuid.UUID(account_id))
    return int(count) >= versions

