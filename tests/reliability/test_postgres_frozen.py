"""PostgreSQL unreachable for longer than the pool's acquire timeout: every server process frozen
(SIGSTOP, postmaster first, so neither new nor open connections answer), then thawed. Throughout, the
API answers fast 503s; afterwards the same app recovers by itself and no answered write is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import asyncpg
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.eventing import wait_until
from tests.reliability.test_postgres_restart import (
    Load,
    Writer,
    _nothing_lost,
    _write,
    answered_503_during,
    on_own_server,
    own_postgres,
    writer,
)

__all__ = ["own_postgres", "writer"]
WRITERS = 4
ACQUIRE_TIMEOUT = 1.0
STATEMENT_TIMEOUT = 2.0
# Longer than the acquire timeout and the client-side statement limit together, several times over.
FROZEN = 8.0


def _server_processes(postmaster: int) -> list[int]:
    """The postmaster and its children (backends and background workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return [postmaster, *children]


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


async def test_a_frozen_database_is_a_fast_503_and_the_app_recovers_by_itself(
    writer: Writer, settings: Settings
) -> None:
    database_url, tenant, owner = writer.database_url, writer.tenant, writer.owner
    mine = on_own_server(settings, database_url, statement_timeout_ms=int(STATEMENT_TIMEOUT * 1000))
    postmaster = int((writer.server.data_dir / "postmaster.pid").read_text().split()[0])
    load = Load()
    frozen: list[int] = []
    async with AsyncTestClient(app=create_app(mine)) as client:
        writers = [asyncio.create_task(_write(client, load, owner, tenant, n)) for n in range(WRITERS)]
        try:
            await wait_until(lambda: sum(o.status == 200 for o in load.outcomes) >= 20, timeout=60)
            frozen = _server_processes(postmaster)
            _signal_all(frozen, signal.SIGSTOP)
            down = time.monotonic()
            # The outage itself: how long the server stays frozen, not a wait for anything.
            await asyncio.sleep(FROZEN)
            not_ready = await client.get("/readyz?exclude=kafka")
            up = time.monotonic()
            _signal_all(list(reversed(frozen)), signal.SIGCONT)
            frozen = []
            recovered = lambda: any(o.started > up and o.status == 200 for o in load.outcomes)  # noqa: E731
            await wait_until(recovered, timeout=60)
            settled = up + STATEMENT_TIMEOUT + 1
            enough = lambda: sum(o.started > settled for o in load.outcomes) >= 3 * WRITERS  # noqa: E731
            await wait_until(enough, timeout=60)
        finally:
            _signal_all(list(reversed(frozen)), signal.SIGCONT)
            load.running = False
            await asyncio.gather(*writers)
        ready = await client.get("/readyz?exclude=kafka")
    check = await asyncpg.connect(database_url)
    try:
        await _nothing_lost(check, load)
    finally:
        await check.close()

    during = answered_503_during(load, down, up)
    # Fast: a request caught mid-statement waits out the client's statement limit, any other one
    # no more than a pooled-connection wait.
    assert max(o.elapsed for o in during) < STATEMENT_TIMEOUT + 1 + 2
    later = [o for o in during if o.started > down + STATEMENT_TIMEOUT + 1]
    assert later and max(o.elapsed for o in later) < ACQUIRE_TIMEOUT + 2
    assert not_ready.status_code == 503 and not_ready.json()["database"] == "unreachable"
    # Recovered by itself: once the requests cut off by the thaw are answered, every write succeeds.
    after = [o for o in load.outcomes if o.started > settled]
    assert len(after) >= 3 * WRITERS and {o.status for o in after} <= {200, 201}
    assert ready.status_code == 200
