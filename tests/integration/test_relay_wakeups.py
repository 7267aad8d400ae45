"""Writers wake the relay only while it waits: a NOTIFY per write would serialise their commits."""

from __future__ import annotations

import asyncio

import asyncpg

from service.events.outbox import CHANNEL, WAITING_LOCK
from tests.eventing import connect, create_account, insert_tenant, wait_until

MARKER = "marker"


async def _notifications_of_one_write(database_url: str, *, relay_waiting: bool) -> list[str]:
    """The payloads on the relay's channel from one account write, up to a marker sent after it."""
    listener = await asyncpg.connect(database_url)
    writer = await connect(database_url)
    waiting = await asyncpg.connect(database_url)
    heard: list[str] = []
    try:
        await listener.add_listener(CHANNEL, lambda *args: heard.append(args[-1]))
        if relay_waiting:
            assert await waiting.fetchval("SELECT pg_try_advisory_lock($1)", WAITING_LOCK)
        tenant = await insert_tenant(writer)
        await create_account(writer, tenant)
        # Notifications arrive in commit order: the write's, if it sent one, comes before this.
        await writer.execute("SELECT pg_notify($1, $2)", CHANNEL, MARKER)
        await wait_until(lambda: MARKER in heard, timeout=10)
    finally:
        await asyncio.gather(listener.close(), writer.close(), waiting.close())
    return heard[: heard.index(MARKER)]


async def test_a_write_sends_no_notify_while_the_relay_is_not_waiting(database_url: str) -> None:
    assert await _notifications_of_one_write(database_url, relay_waiting=False) == []


async def test_a_write_notifies_a_waiting_relay(database_url: str) -> None:
    assert await _notifications_of_one_write(database_url, relay_waiting=True) == [""]


async def test_the_relay_cannot_start_waiting_while_a_write_without_notify_is_in_flight(
    database_url: str,
) -> None:
    writer = await connect(database_url)
    relay = await asyncpg.connect(database_url)
    try:
        tenant = await insert_tenant(writer)
        transaction = writer.transaction()
        await transaction.start()
        await create_account(writer, tenant)
        # Until that write commits, its event is invisible and no NOTIFY will announce it.
        assert not await relay.fetchval("SELECT pg_try_advisory_lock($1)", WAITING_LOCK)
        await transaction.commit()
        assert await relay.fetchval("SELECT pg_try_advisory_lock($1)", WAITING_LOCK)
    finally:
        await asyncio.gather(writer.close(), relay.close())
