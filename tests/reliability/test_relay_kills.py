"""`accounts-service relay` SIGKILLed again and again at random moments (a fixed seed) while accounts keep
changing: whenever it died (waiting for the lock, mid-batch, between Kafka's acknowledgement and
marking the rows), the next relay publishes what is left, and a consumer that drops duplicates sees
every version of every account once, in order. One clean kill mid-batch is in test_relay_crash."""

from __future__ import annotations

import asyncio
import random
import signal
import uuid

import asyncpg
import pytest

from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import (
    create_account,
    event_settings,
    insert_tenant,
    versions_delivered,
    wait_until,
)
from tests.integration.api_process import RelayProcess, relay_environment
from tests.reliability.faults import keep_writing

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")

SEED = 20261126
KILLS = 4
ACCOUNTS = 8


def _said(relay: RelayProcess, text: str) -> bool:
    return any(text in line for line in relay.lines)


async def test_a_relay_killed_at_random_moments_loses_and_reorders_nothing(
    settings: Settings, database_url: str, conn: asyncpg.Connection
) -> None:
    mine = event_settings(settings, relay_batch_size=7)
    await ensure_topics(mine)
    tenant = await insert_tenant(conn)
    accounts: list[uuid.UUID] = [await create_account(conn, tenant) for _ in range(ACCOUNTS)]
    rng = random.Random(SEED)
    stop = asyncio.Event()
    writer = asyncio.create_task(keep_writing(database_url, accounts, stop, pause=0.01))
    processes: list[RelayProcess] = []
    try:
        for _ in range(KILLS):
            relay = RelayProcess(relay_environment(mine))
            processes.append(relay)
            # Now and then while it starts or takes the lock; mostly anywhere in its publishing.
            if rng.random() < 0.25:
                await asyncio.sleep(rng.uniform(0.1, 1.0))
            else:
                await wait_until(lambda: _said(relay, "relay active"), timeout=60)  # noqa: B023
                await asyncio.sleep(rng.uniform(0.0, 1.5))
            relay.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(relay.process.wait, 30)
        stop.set()
        await writer
        last = RelayProcess(relay_environment(mine))
        processes.append(last)
        await wait_until(
            lambda: conn.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"), timeout=120
        )
        last.terminate()
        assert await asyncio.to_thread(last.wait_exit, 30) == 0
    finally:
        stop.set()
        await asyncio.gather(writer, return_exceptions=True)
        for process in processes:
            process.stop()

    assert sum(_said(process, "relay active") for process in processes[:-1]) >= 2
    final = {str(row["id"]): row["version"] for row in await conn.fetch("SELECT id, version FROM accounts")}
    seen, _ = await versions_delivered(mine)
    assert seen == {account: list(range(1, version + 1)) for account, version in final.items()}
