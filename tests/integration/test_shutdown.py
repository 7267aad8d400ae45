import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg
import httpx
from asyncpg.transaction import Transaction

from service.settings import Settings
from tests.identity import Tenants
from tests.integration.accounts_support import new_account
from tests.integration.api_process import ApiProcess, RelayProcess, api_environment, relay_environment

T = TypeVar("T")
DRAIN_SECONDS = 1.5
SHUTDOWN_TIMEOUT = 10
WRITES = 8


async def _wait_for_blocked_writers(db: asyncpg.Connection, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} writes reached the outbox")


@asynccontextmanager
async def _ready_with_outbox_held(
    api: ApiProcess, settings: Settings
) -> AsyncIterator[tuple[Transaction, httpx.AsyncClient]]:
    """The API process ready, its outbox locked, and a client of it."""
    await asyncio.to_thread(api.wait_ready)
    async with _outbox_held(settings.database_url) as blocking, httpx.AsyncClient(
        base_url=api.base_url, timeout=30
    ) as http:
        yield blocking, http


@asynccontextmanager
async def _outbox_held(database_url: str) -> AsyncIterator[Transaction]:
    """The outbox locked in a transaction of its own: every account write waits until it ends."""
    blocker = await asyncpg.connect(database_url)
    try:
        blocking = blocker.transaction()
        await blocking.start()
        await blocker.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
        yield blocking
    finally:
        await blocker.close()


async def _poll(check: Callable[[], Awaitable[T | None]], timeout: float = 20.0) -> T:
    """Ask `check` until it answers something other than None; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (answer := await check()) is not None:
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


async def _ready_answer(http: httpx.AsyncClient, status: int) -> httpx.Response | None:
    response = await http.get("/readyz", params={"exclude": "kafka"})
    return response if response.status_code == status else None


async def _refused(base_url: str) -> bool | None:
    """True once a new connection is refused; None while the listener still answers."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as late:
        try:
            await late.get("/healthz")
        except httpx.ConnectError:
            return True
    return None


async def test_sigterm_under_load_cuts_no_request_and_loses_no_event(
    settings: Settings, tenants: Tenants, token_for: Callable[..., str], db: asyncpg.Connection
) -> None:
    api = ApiProcess(
        api_environment(
            settings,
            SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS),
            SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
            DB_POOL_MAX_SIZE=str(WRITES + 4),
        )
    )
    headers = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
    try:
        # Every write waits inside its transaction: all are in flight at SIGTERM.
        async with _ready_with_outbox_held(api, settings) as (blocking, http):
            writes = [
                asyncio.create_task(
                    http.post(
                        "/api/accounts",
                        json=new_account(tenants.a, externalId=f"+1555000{i:04d}"),
                        headers=headers,
                    )
                )
                for i in range(WRITES)
            ]
            await _wait_for_blocked_writers(db, WRITES)

            api.terminate()
            signalled = time.monotonic()
            draining = await _poll(lambda: _ready_answer(http, 503))
            alive = await http.get("/healthz")

            # Past the drain period the listener is closed: a new connection is refused.
            refused = await _poll(lambda: _refused(api.base_url), timeout=DRAIN_SECONDS + SHUTDOWN_TIMEOUT)
            refused_after = time.monotonic() - signalled

            await blocking.commit()
            results = await asyncio.gather(*writes)
        code = await asyncio.to_thread(api.wait_exit, DRAIN_SECONDS + SHUTDOWN_TIMEOUT + 5)
        stopped_after = time.monotonic() - signalled
    finally:
        api.stop()

    assert draining.status_code == 503
    assert draining.json() == {"status": "unavailable", "server": "shutting down"}
    assert alive.status_code == 200
    assert refused
    assert refused_after >= DRAIN_SECONDS
    assert [response.status_code for response in results] == [201] * WRITES
    assert code in (0, -15)
    assert stopped_after < DRAIN_SECONDS + SHUTDOWN_TIMEOUT
    messages = [json.loads(line)["message"] for line in api.lines if line.startswith("{")]
    assert "Application shutdown complete." in messages

    created = {response.json()["id"] for response in results}
    events = await db.fetch("SELECT account_id::text, event_type FROM outbox ORDER BY position")
    assert sorted(row["account_id"] for row in events) == sorted(created)
    assert {row["event_type"] for row in events} == {"account.connected"}


async def test_in_flight_requests_past_the_timeout_are_cancelled_and_the_process_still_exits(
    settings: Settings, tenants: Tenants, token_for: Callable[..., str], db: asyncpg.Connection
) -> None:
    api = ApiProcess(api_environment(settings, SHUTDOWN_DRAIN_SECONDS="0", SHUTDOWN_TIMEOUT="2"))
    headers = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
    try:
        async with _ready_with_outbox_held(api, settings) as (blocking, http):
            request = http.post("/api/accounts", json=new_account(tenants.a), headers=headers)
            stuck = asyncio.create_task(request)
            await _wait_for_blocked_writers(db, 1)
            api.terminate()
            signalled = time.monotonic()
            code = await asyncio.to_thread(api.wait_exit, 20)
            stopped_after = time.monotonic() - signalled
            outcome = await asyncio.gather(stuck, return_exceptions=True)
            await blocking.rollback()
    finally:
        api.stop()

    assert code in (0, -15)
    # The graceful timeout, then a bounded pool close: never the full statement timeout or longer.
    assert stopped_after < 2 + 5 + 2
    response = outcome[0]
    # Cut off without an answer, or answered with an error: either way nothing was committed.
    assert isinstance(response, httpx.HTTPError) or response.status_code >= 500
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0
    assert await db.fetchval("SELECT count(*) FROM accounts") == 0


async def _pending_events(
    settings: Settings, tenants: Tenants, token_for: Callable[..., str], count: int
) -> None:
    api = ApiProcess(api_environment(settings))
    try:
        await asyncio.to_thread(api.wait_ready)
        headers = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            for i in range(count):
                body = new_account(tenants.a, externalId=f"+1555111{i:04d}")
                assert (await http.post("/api/accounts", json=body, headers=headers)).status_code == 201
    finally:
        api.stop()


async def test_the_relay_exits_in_time_on_sigterm_while_kafka_is_down_and_keeps_its_rows(
    settings: Settings, tenants: Tenants, token_for: Callable[..., str], db: asyncpg.Connection
) -> None:
    await _pending_events(settings, tenants, token_for, 3)
    # Nothing listens there: every connection attempt to the "broker" fails.
    relay = RelayProcess(
        relay_environment(settings, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9", KAFKA_PUBLISH_TIMEOUT="3")
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = await asyncio.to_thread(relay.metrics)
            tried_kafka = text and "accounts_relay_kafka_errors_total 0.0" not in text
            if text and "accounts_relay_active 1.0" in text and tried_kafka:
                break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError("the relay never became active:\n" + "\n".join(relay.lines))
        relay.terminate()
        signalled = time.monotonic()
        code = await asyncio.to_thread(relay.wait_exit, 30)
        stopped_after = time.monotonic() - signalled
    finally:
        relay.stop()

    assert code == 0
    # Within the relay pods' terminationGracePeriodSeconds (30), with room to spare.
    assert stopped_after < 3 + 5
    rows = await db.fetch("SELECT published_at, parked_at, attempts FROM outbox")
    assert len(rows) == 3
    assert all(row["published_at"] is None and row["parked_at"] is None for row in rows)
