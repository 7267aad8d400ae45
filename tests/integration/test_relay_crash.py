"""`accounts-service relay` processes killed with SIGKILL: nothing is lost, and a standby takes over."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import (
    cli,
    connect,
    count_at_least,
    create_account,
    event_settings,
    insert_tenant,
    read_topic,
    service_env,
    update_account,
    versions_delivered,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")

PUBLISHED = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
LOCKS = """
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'advisory'
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def published(conn: asyncpg.Connection, at_least: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return int(await conn.fetchval(PUBLISHED)) >= at_least

    return check


class RelayProcess:
    """One `accounts-service relay` process with its log in a file."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = cli("relay", env=service_env(settings), stdout=out, stderr=subprocess.STDOUT)

    def said(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


@pytest.fixture
def processes() -> Iterator[list[RelayProcess]]:
    started: list[RelayProcess] = []
    yield started
    for relay in started:
        if relay.process.poll() is None:
            relay.kill()


async def _write(conn: asyncpg.Connection, accounts: int, updates: int) -> int:
    tenant = await insert_tenant(conn)
    ids = [await create_account(conn, tenant) for _ in range(accounts)]
    for i in range(updates):
        for account in ids:
            await update_account(conn, account, name=f"change {i}")
    return accounts * (updates + 1)


async def _delivered_once(settings: Settings, expected: int) -> tuple[dict[str, list[int]], int]:
    """What an application on the consumer helper sees: versions per account, and duplicates dropped."""
    seen, skipped = await versions_delivered(settings)
    assert sum(map(len, seen.values())) == expected
    return seen, skipped


async def test_a_relay_killed_mid_batch_loses_nothing_after_restart(
    settings: Settings, database_url: str, tmp_path: Path, processes: list[RelayProcess]
) -> None:
    relay_settings = event_settings(settings, relay_batch_size=10)
    await ensure_topics(relay_settings)
    conn = await connect(database_url)
    try:
        total = await _write(conn, accounts=20, updates=14)
        processes.append(RelayProcess(relay_settings, tmp_path / "first.log"))
        await wait_until(published(conn, 60), timeout=60, interval=0.01)
        processes[0].kill()
        published_when_killed = await conn.fetchval(PUBLISHED)
        processes.append(RelayProcess(relay_settings, tmp_path / "second.log"))
        await wait_until(published(conn, total), timeout=90)
        assert processes[1].stop() == 0
    finally:
        await conn.close()

    assert published_when_killed < total
    records = await read_topic(
        relay_settings.kafka_bootstrap_servers, relay_settings.kafka_events_topic, count_at_least(total)
    )
    seen, skipped = await _delivered_once(relay_settings, total)
    assert seen == {account: list(range(1, 16)) for account in seen} and len(seen) == 20
    assert skipped == len(records) - total


async def test_a_standby_relay_takes_over_when_the_active_one_is_killed(
    settings: Settings, database_url: str, tmp_path: Path, processes: list[RelayProcess]
) -> None:
    relay_settings = event_settings(settings)
    await ensure_topics(relay_settings)
    conn = await connect(database_url)
    try:
        active = RelayProcess(relay_settings, tmp_path / "active.log")
        processes.append(active)
        await wait_until(lambda: active.said("relay active"), timeout=60)
        standby = RelayProcess(relay_settings, tmp_path / "standby.log")
        processes.append(standby)
        await wait_until(lambda: standby.said("waiting as standby"), timeout=60)
        first = await _write(conn, accounts=5, updates=1)
        await wait_until(published(conn, first), timeout=60)
        assert not standby.said("relay active")

        active.kill()
        second = await _write(conn, accounts=5, updates=1)
        await wait_until(published(conn, first + second), timeout=60)
        assert standby.said("relay active")
        assert standby.stop() == 0
    finally:
        await conn.close()

    seen, _ = await _delivered_once(relay_settings, first + second)
    assert sorted(seen.values()) == [[1, 2]] * 10


async def test_the_relay_stops_cleanly_on_sigterm_and_releases_the_lock(
    settings: Settings, database_url: str, tmp_path: Path, processes: list[RelayProcess]
) -> None:
    relay = RelayProcess(event_settings(settings), tmp_path / "relay.log")
    processes.append(relay)
    await wait_until(lambda: relay.said("relay active"), timeout=60)
    assert await asyncio.to_thread(relay.stop) == 0
    conn = await connect(database_url)
    try:
        assert await conn.fetchval(LOCKS) == 0
    finally:
        await conn.close()
