"""Kafka lost under a stream of writes, as seen by a real `accounts-service relay` process: stopped for
20 s, the relay waits calmly (few log lines, little CPU) and everything arrives once Kafka is back;
killed outright, nothing is lost either."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import asyncpg

from devtools.kafka import LocalKafka
from devtools.processes import pid_alive
from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import create_account, event_settings, insert_tenant, wait_until
from tests.integration.api_process import RelayProcess, relay_environment
from tests.reliability.faults import applied, cpu_seconds, final_versions, keep_writing, topics_as_read

OUTAGE = 20.0
ALL_PUBLISHED = "SELECT bool_and(published_at IS NOT NULL) FROM outbox"


def _metric(relay: RelayProcess, name: str) -> float | None:
    for line in (relay.metrics() or "").splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


async def _relaying(
    mine: Settings, database_url: str, conn: asyncpg.Connection
) -> tuple[RelayProcess, asyncio.Event, asyncio.Task[int]]:
    """A relay process publishing eight accounts that keep changing until `stop` is set."""
    await ensure_topics(mine)
    tenant = await insert_tenant(conn)
    accounts = [await create_account(conn, tenant) for _ in range(8)]
    relay = RelayProcess(relay_environment(mine))
    stop = asyncio.Event()
    return relay, stop, asyncio.create_task(keep_writing(database_url, accounts, stop))


async def test_a_lost_broker_is_waited_for_calmly_and_nothing_is_lost(
    settings: Settings, database_url: str, conn: asyncpg.Connection, own_kafka: LocalKafka
) -> None:
    # The default publish timeout: the relay must not spin through it while the broker is gone.
    mine = event_settings(
        settings, kafka_bootstrap_servers=own_kafka.bootstrap_servers, kafka_publish_timeout=10.0
    )
    relay, stop, writer = await _relaying(mine, database_url, conn)
    try:
        await wait_until(lambda: (_metric(relay, "accounts_relay_published_total") or 0) > 20, timeout=60)
        lines, cpu, started = len(relay.lines), cpu_seconds(relay.process.pid), time.monotonic()
        await asyncio.to_thread(own_kafka.stop)
        await wait_until(lambda: _metric(relay, "accounts_relay_kafka_available") == 0, timeout=30)
        # The outage itself: how long the broker stays away, not a wait for anything.
        await asyncio.sleep(OUTAGE - (time.monotonic() - started))
        during = relay.lines[lines:]
        share = (cpu_seconds(relay.process.pid) - cpu) / (time.monotonic() - started)
        waiting = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        final, history, state = await _back_again(relay, own_kafka, stop, writer, conn, mine, within=60)
    finally:
        stop.set()
        await asyncio.gather(writer, return_exceptions=True)
        relay.stop()

    print(f"outage: {len(during)} log lines, {share:.1%} of a core, {waiting} events waited")
    assert waiting > 0, "the writes stopped during the outage: nothing waited for Kafka"
    assert len(during) < 20, "\n".join(during)
    assert share < 0.10, f"the relay used {share:.0%} of a core while Kafka was gone"
    assert {a: applied(v) for a, v in history.items()} == {a: list(range(1, v + 1)) for a, v in final.items()}
    assert {a: v[-1] for a, v in state.items()} == final


async def test_a_broker_killed_under_load_loses_nothing(
    settings: Settings, database_url: str, conn: asyncpg.Connection, own_kafka: LocalKafka
) -> None:
    """SIGKILL, not a clean stop: open transactions and unflushed logs die with the broker."""
    mine = event_settings(settings, kafka_bootstrap_servers=own_kafka.bootstrap_servers)
    relay, stop, writer = await _relaying(mine, database_url, conn)
    try:
        await wait_until(lambda: (_metric(relay, "accounts_relay_published_total") or 0) > 50, timeout=60)
        pid = int((own_kafka.home / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: not pid_alive(pid), timeout=30)
        await wait_until(lambda: _metric(relay, "accounts_relay_kafka_available") == 0, timeout=30)
        waiting = await wait_until(
            lambda: conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"), timeout=30
        )
        final, history, state = await _back_again(relay, own_kafka, stop, writer, conn, mine, within=90)
    finally:
        stop.set()
        await asyncio.gather(writer, return_exceptions=True)
        relay.stop()

    assert waiting > 0
    assert {a: applied(v) for a, v in history.items()} == {a: list(range(1, v + 1)) for a, v in final.items()}
    assert {a: v[-1] for a, v in state.items()} == final


async def _back_again(
    relay: RelayProcess,
    own_kafka: LocalKafka,
    stop: asyncio.Event,
    writer: asyncio.Task[None],
    conn: asyncpg.Connection,
    mine: Settings,
    within: float,
) -> tuple[dict[str, int], dict[str, list[int]], dict[str, list[int]]]:
    """Bring the broker back, stop writing, let the relay drain, and read both topics as a consumer."""
    await asyncio.to_thread(own_kafka.start)
    await wait_until(lambda: _metric(relay, "accounts_relay_kafka_available") == 1, timeout=within)
    stop.set()
    await writer
    await wait_until(lambda: conn.fetchval(ALL_PUBLISHED), timeout=120)
    final = await final_versions(conn)
    history, state = await topics_as_read(mine, final)
    relay.terminate()
    assert await asyncio.to_thread(relay.wait_exit, 30) == 0
    return final, history, state
