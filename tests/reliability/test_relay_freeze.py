"""The active relay frozen (SIGSTOP) in the middle of a batch, after reading rows and before sending
them: the standby takes over within 5 s, and the frozen relay, thawed later with its stale batch and
live producer, is fenced: nothing it sends is ever committed, so no consumer sees an old version after
a newer one, and nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg
import pytest

from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import create_account, event_settings, insert_tenant, update_account, wait_until
from tests.integration.api_process import RelayProcess, relay_environment
from tests.reliability.faults import final_versions, topics_as_read

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")

# How long the first relay waits between reading a batch and sending it; it is frozen in that window
# and thawed only after the window has passed, so it goes on at once to send what it read.
PAUSE = 8.0
ALL_PUBLISHED = "SELECT bool_and(published_at IS NOT NULL) FROM outbox"


def _said(relay: RelayProcess, text: str) -> float | None:
    """When (monotonic, as the line was collected) the relay first logged `text`."""
    return next((at for at, line in relay.timed_lines if text in line), None)


async def test_a_relay_frozen_mid_batch_is_fenced_after_the_standby_took_over(
    settings: Settings, conn: asyncpg.Connection
) -> None:
    mine = event_settings(settings)
    await ensure_topics(mine)
    tenant = await insert_tenant(conn)
    zombie = RelayProcess(relay_environment(mine, RELAY_DEBUG_PAUSE_AFTER_READ=str(PAUSE)))
    relays = [zombie]
    try:
        await wait_until(lambda: _said(zombie, "relay active"), timeout=60)
        standby = RelayProcess(relay_environment(mine))
        relays.append(standby)
        await wait_until(lambda: _said(standby, "standby"), timeout=60)

        accounts = [await create_account(conn, tenant) for _ in range(4)]
        await wait_until(lambda: _said(zombie, "events read"), timeout=30)
        zombie.process.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        for account in accounts:
            await update_account(conn, account, name="while frozen")
        took_over = await wait_until(lambda: _said(standby, "relay active"), timeout=60)
        await wait_until(lambda: conn.fetchval(ALL_PUBLISHED), timeout=60)
        for account in accounts:
            await update_account(conn, account, name="before the thaw")
        await wait_until(lambda: conn.fetchval(ALL_PUBLISHED), timeout=60)
        # Thawed past its pause, the frozen relay sends the batch it read with the producer it had.
        await wait_until(lambda: time.monotonic() - frozen_at > PAUSE, timeout=PAUSE + 1)
        zombie.process.send_signal(signal.SIGCONT)
        # Awake, it either sends with its old producer and is fenced, or, when its heartbeat notices the
        # ended session first, leaves the term without sending; either way nothing of it may land.
        left = ("fenced", "term over", "lost the database")
        await wait_until(lambda: any(_said(zombie, text) for text in left), timeout=60)
        await wait_until(lambda: _said(zombie, "standby"), timeout=60)
        for account in accounts:
            await update_account(conn, account, name="after the thaw")
        await wait_until(lambda: conn.fetchval(ALL_PUBLISHED), timeout=60)
        final = await final_versions(conn)
        history, state = await topics_as_read(mine, final)
        for relay in relays:
            relay.terminate()
            assert await asyncio.to_thread(relay.wait_exit, 30) == 0
    finally:
        for relay in relays:
            relay.process.send_signal(signal.SIGCONT)
            relay.stop()

    print(f"takeover {took_over - frozen_at:.2f} s after the freeze")
    assert took_over - frozen_at < 5.0, f"standby took over {took_over - frozen_at:.1f} s after the freeze"
    # Every record once, in version order, on both topics: the zombie's batch (each account's first
    # version, read before the freeze) never appears after the newer ones the standby published.
    expected = {account: list(range(1, version + 1)) for account, version in final.items()}
    assert history == expected
    assert state == expected
