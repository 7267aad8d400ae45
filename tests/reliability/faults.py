"""Helpers for fault tests: a process's CPU time, a steady writer, what consumers see on both topics."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg

from service.settings import Settings
from tests.eventing import Record, connect, headers_of, kafka_settled, read_topic, update_account

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def keep_writing(
    database_url: str, accounts: list[uuid.UUID], stop: asyncio.Event, pause: float = 0.02
) -> int:
    """Change the accounts in turn until told to stop; return how many changes were committed."""
    connection = await connect(database_url)
    changes = 0
    try:
        while not stop.is_set():
            await update_account(connection, accounts[changes % len(accounts)], name=f"change {changes}")
            changes += 1
            await asyncio.sleep(pause)
    finally:
        await connection.close()
    return changes


async def final_versions(conn: asyncpg.Connection) -> dict[str, int]:
    return {str(row["id"]): row["version"] for row in await conn.fetch("SELECT id, version FROM accounts")}


def _versions(records: list[Record]) -> dict[str, list[int]]:
    versions: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        versions.setdefault(record.key.decode(), []).append(int(headers_of(record)["ce_accountversion"]))
    return versions


def _all_seen(final: dict[str, int]) -> Callable[[list[Record]], bool]:
    return lambda records: all(final[a] in _versions(records).get(a, []) for a in final)


async def topics_as_read(settings: Settings, final: dict[str, int]) -> tuple[dict[str, list[int]], ...]:
    """Each account's versions in partition order on the events and the state topic (read_committed),
    read until every account's final version has arrived on both."""
    await kafka_settled(settings)
    servers = settings.kafka_bootstrap_servers
    events = await read_topic(servers, settings.kafka_events_topic, _all_seen(final), 120)
    state = await read_topic(servers, settings.kafka_state_topic, _all_seen(final), 120)
    return _versions(events), _versions(state)


def applied(versions: list[int]) -> list[int]:
    """The versions a consumer applies: each one above the last applied, in arrival order (a batch
    Kafka committed but the relay could not mark is sent again)."""
    kept: list[int] = []
    for version in versions:
        if not kept or version > kept[-1]:
            kept.append(version)
    return kept
