"""PostgreSQL restarted under write load, on a server of the test's own: during the outage requests fail
fast with 503, afterwards the same app's pool recovers by itself, no connection leaks, and every write
that was answered 2xx is in the database with its outbox event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from devtools.postgres import LocalPostgres
from service.app import create_app
from service.db.migrate import migrate
from service.settings import Settings
from service.web.problems import exception_handlers
from tests.conftest import with_database
from tests.identity import Tenant, insert_tenant
from tests.integration.accounts_support import new_account

WRITERS = 4
POOL_SIZE = 5
ACQUIRE_TIMEOUT = 1.0
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
CONNECTIONS = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'accounts-service'"


@dataclass
class Outcome:
    started: float
    elapsed: float
    status: int
    account_id: str | None = None
    version: int | None = None


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    running: bool = True


def on_own_server(settings: Settings, database_url: str, *, statement_timeout_ms: int) -> Settings:
    """The suite's settings on the test's own server, with a small pool that stops waiting soon."""
    return msgspec.structs.replace(
        settings,
        database_url=database_url,
        db_pool_max_size=POOL_SIZE,
        db_acquire_timeout=ACQUIRE_TIMEOUT,
        db_statement_timeout_ms=statement_timeout_ms,
    )


def answered_503_during(load: Load, down: float, up: float) -> list[Outcome]:
    """Only 2xx and 503 at all, and the writers kept trying through the outage and got 503s there."""
    statuses = {outcome.status for outcome in load.outcomes}
    assert statuses <= {200, 201, 503}, statuses
    during = [o for o in load.outcomes if down <= o.started and o.started + o.elapsed <= up]
    assert len(during) >= WRITERS, "the writers kept trying during the outage"
    assert {o.status for o in during} == {503}
    return during


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[tuple[LocalPostgres, str]]:
    """A PostgreSQL server this test may stop, with a migrated database."""
    server = LocalPostgres(tmp_path / "pg", fast=True)
    url = await asyncio.to_thread(server.start)
    try:
        admin = await asyncpg.connect(url)
        await admin.execute("CREATE DATABASE accounts")
        await admin.close()
        database_url = with_database(url, "accounts")
        await migrate(database_url)
        yield server, database_url
    finally:
        await asyncio.to_thread(server.stop)


@dataclass
class Writer:
    """A tenant of the test's own server, and its owner's request headers."""

    server: LocalPostgres
    database_url: str
    tenant: Tenant
    owner: dict[str, str]


@pytest.fixture
async def writer(
    own_postgres: tuple[LocalPostgres, str], password_hash: str, token_for: Callable[..., str]
) -> Writer:
    server, database_url = own_postgres
    direct = await asyncpg.connect(database_url)
    tenant = await insert_tenant(direct, "own", password_hash)
    await direct.close()
    owner = {"Authorization": f"Bearer {token_for(tenant.owner)}", "Accept": "application/json"}
    return Writer(server, database_url, tenant, owner)


async def _write(client: AsyncTestClient, load: Load, owner: dict[str, str], tenant: Tenant, n: int) -> None:  # type: ignore[type-arg]
    """Create an account, then keep changing it; each answer is recorded with its timing."""
    account_id: str | None = None
    step = 0
    while load.running:
        step += 1
        began = time.monotonic()
        if account_id is None:
            body = new_account(tenant, externalId=f"+1555{n:02d}{step:05d}")
            response = await client.post("/api/accounts", json=body, headers=owner)
        else:
            change = f'{{"name": "writer {n} step {step}"}}'.encode()
            path = f"/api/accounts/{account_id}"
            response = await client.patch(path, content=change, headers=owner | MERGE_PATCH)
        outcome = Outcome(began, time.monotonic() - began, response.status_code)
        if response.status_code in (200, 201):
            outcome.account_id, outcome.version = response.json()["id"], response.json()["version"]
            account_id = outcome.account_id
        load.outcomes.append(outcome)
        await asyncio.sleep(0.02)


async def test_requests_fail_fast_during_a_restart_and_the_pool_recovers_losing_nothing(
    writer: Writer, settings: Settings
) -> None:
    server, database_url, tenant, owner = writer.server, writer.database_url, writer.tenant, writer.owner
    mine = on_own_server(settings, database_url, statement_timeout_ms=2000)
    load = Load()
    async with AsyncTestClient(app=create_app(mine)) as client:
        writers = [asyncio.create_task(_write(client, load, owner, tenant, n)) for n in range(WRITERS)]
        try:
            await asyncio.sleep(2)
            await asyncio.to_thread(server.stop)
            down = time.monotonic()
            await asyncio.sleep(3)
            not_ready = await client.get("/readyz?exclude=kafka")
            up = time.monotonic()
            await asyncio.to_thread(server.start)
            restarted = time.monotonic()
            await asyncio.sleep(4)
        finally:
            load.running = False
            await asyncio.gather(*writers)
        ready = await client.get("/readyz?exclude=kafka")
        check = await asyncpg.connect(database_url)
        try:
            held = await check.fetchval(CONNECTIONS)
        finally:
            await check.close()
    check = await asyncpg.connect(database_url)
    try:
        leaked = await check.fetchval(CONNECTIONS)
        await _nothing_lost(check, load)
    finally:
        await check.close()

    during = answered_503_during(load, down, up)
    # Fail fast: no request waits much longer than one pooled-connection wait.
    assert max(o.elapsed for o in during) < ACQUIRE_TIMEOUT + 2
    assert not_ready.status_code == 503 and not_ready.json()["database"] == "unreachable"
    # The same app recovers on its own once the server is back.
    after = [o for o in load.outcomes if o.started > restarted]
    assert any(o.status in (200, 201) for o in after), "no write succeeded after the restart"
    assert after[-1].status in (200, 201)
    assert ready.status_code == 200
    assert held <= POOL_SIZE
    assert leaked == 0


async def _nothing_lost(db: asyncpg.Connection, load: Load) -> None:
    """Every answered write is stored with its event; every stored change has its event."""
    accounts = {str(row["id"]): row["version"] for row in await db.fetch("SELECT id, version FROM accounts")}
    events = {
        (str(row["account_id"]), row["account_version"])
        for row in await db.fetch("SELECT account_id, account_version FROM outbox")
    }
    for outcome in load.outcomes:
        if outcome.account_id is not None:
            assert outcome.version is not None
            assert accounts[outcome.account_id] >= outcome.version
            assert (outcome.account_id, outcome.version) in events
    for account_id, version in accounts.items():
        assert {v for a, v in events if a == account_id} == set(range(1, version + 1)), account_id



@get("/commit")
async def _commit_cut_off() -> None:
    raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")


async def test_a_connection_cut_off_in_the_middle_of_a_commit_is_a_503() -> None:
    """Seen once in the restart test: the server went away while asyncpg was committing, and asyncpg
    reported its protocol state rather than a lost connection. Too rare there to rely on, so the
    mapping is pinned here."""
    app = Litestar([_commit_cut_off], exception_handlers=exception_handlers)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/commit")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
