"""The active relay freezes (SIGSTOP) instead of dying: its connection stays open, so without a limit it
would hold the lock, and every event would wait, for as long as it stays frozen. The server ends its
silent session, the standby takes over, and the thawed relay, finding its connection gone, falls back
to standby without losing or reordering anything."""

from __future__ import annotations

import asyncio
import signal
import time

import asyncpg

from service.events.consumer import AccountEventConsumer
from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import (
    create_account,
    event_settings,
    insert_tenant,
    kafka_settled,
    update_account,
    wait_until,
)
from tests.integration.api_process import RelayProcess, relay_environment

PUBLISH_TIMEOUT = 2.0
# What the relay lets its session be silent for: three publish timeouts, the longest back-off, a margin.
SILENCE = 3 * PUBLISH_TIMEOUT + 5 + 5
ALL_PUBLISHED = "SELECT bool_and(published_at IS NOT NULL) FROM outbox"


def _said(relay: RelayProcess, text: str) -> bool:
    return any(text in line for line in relay.lines)


async def test_a_frozen_relay_gives_the_lock_up_to_the_standby(
    settings: Settings, conn: asyncpg.Connection
) -> None:
    mine = event_settings(settings, kafka_publish_timeout=PUBLISH_TIMEOUT)
    await ensure_topics(mine)
    tenant = await insert_tenant(conn)
    active = RelayProcess(relay_environment(mine))
    relays = [active]
    try:
        await wait_until(lambda: _said(active, "relay active"), timeout=60)
        standby = RelayProcess(relay_environment(mine))
        relays.append(standby)
        await wait_until(lambda: _said(standby, "standby"), timeout=60)
        accounts = [await create_account(conn, tenant) for _ in range(3)]
        await wait_until(lambda: conn.fetchval(ALL_PUBLISHED), timeout=60)

        active.process.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        for account in accounts:
            await update_account(conn, account, name="while frozen")
        await wait_until(lambda: conn.fetchval(ALL_PUBLISHED), timeout=SILENCE + 30)
        assert _said(standby, "relay active")
        assert time.monotonic() - frozen_at > PUBLISH_TIMEOUT, "taken over before the session fell silent"

        active.process.send_signal(signal.SIGCONT)
        await wait_until(lambda: _said(active, "standby"), timeout=SILENCE + 30)
        for account in accounts:
            await update_account(conn, account, name="after the thaw")
        await wait_until(lambda: conn.fetchval(ALL_PUBLISHED), timeout=60)
        for relay in relays:
            relay.terminate()
            assert await asyncio.to_thread(relay.wait_exit, 30) == 0
    finally:
        for relay in relays:
            relay.process.send_signal(signal.SIGCONT)
            relay.stop()

    await kafka_settled(mine)
    consumer = AccountEventConsumer(mine.kafka_bootstrap_servers, [mine.kafka_events_topic])
    seen: dict[str, list[int]] = {}
    async with consumer:
        async for event in consumer.events(until_end=True):
            seen.setdefault(event.account_id, []).append(event.version)
    assert seen == {str(account): [1, 2, 3] for account in accounts}
