"""Helpers for the event tests: account changes written as the accounts API writes them, Kafka reads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from service.accounts import queries
from service.accounts.representation import event_payload, snapshot
from service.crypto import CredentialCipher, new_key_ring_entry
from service.events.consumer import AccountEventConsumer
from service.events.outbox import CHANNEL
from service.events.relay import Relay
from service.settings import Settings

Record = ConsumerRecord[bytes, bytes]


def event_settings(settings: Settings, **overrides: Any) -> Settings:
    """The test's settings with topics of its own and a relay that reacts quickly."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {
        "kafka_events_topic": f"{prefix}.accounts.events",
        "kafka_state_topic": f"{prefix}.accounts.state",
        "kafka_topic_partitions": 3,
        "relay_poll_interval": 0.2,
        "kafka_publish_timeout": 5.0,
        # Relays of different tests share the session's broker: each test fences only its own.
        "relay_transactional_id": f"{prefix}.relay",
    }
    return msgspec.structs.replace(settings, **(values | overrides))


async def connect(database_url: str) -> asyncpg.Connection:
    """A connection that maps jsonb to Python values, like the service's pool."""
    connection = await asyncpg.connect(database_url)
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name,
            schema="pg_catalog",
            encoder=lambda value: msgspec.json.encode(value).decode(),
            decoder=msgspec.json.decode,
            format="text",
        )
    return connection


@dataclass(frozen=True)
class Tenant:
    organization_id: uuid.UUID
    client_id: uuid.UUID


async def insert_tenant(connection: asyncpg.Connection) -> Tenant:
    tenant = Tenant(uuid.uuid4(), uuid.uuid4())
    await connection.execute(
        "INSERT INTO organizations (id, name) VALUES ($1, 'Dunder Mifflin')", tenant.organization_id
    )
    await connection.execute(
        "INSERT INTO clients (id, organization_id, name) VALUES ($1, $2, 'Scranton')",
        tenant.client_id,
        tenant.organization_id,
    )
    return tenant


# A key ring of the tests' own: events tests write accounts as the API does, sealed credentials included.
_CIPHER = CredentialCipher.from_text(new_key_ring_entry("events"))
_CREDENTIALS = {"phoneNumberId": "1098765432", "accessToken": "EAAG-test"}


async def create_account(
    connection: asyncpg.Connection, tenant: Tenant, *, metadata: dict[str, Any] | None = None
) -> uuid.UUID:
    """Insert an account and its `account.connected` event with the statement the API uses."""
    account_id = uuid.uuid4()
    values = {
        "id": account_id,
        "organization_id": tenant.organization_id,
        "client_id": tenant.client_id,
        "integration": "whatsapp",
        "provider": "whatsapp",
        "type": "whatsapp",
        "name": "Michael Scott",
        "headline": "Regional Manager",
        "avatar": None,
        "external_id": f"+1555{account_id.int % 10**7:07d}",
        "status": "connecting",
        "status_reason": None,
        "settings": {"receive": True, "send": True},
        "metadata": metadata or {},
    }
    await queries.insert_account(
        connection,
        values=values,
        sealed_credentials=_CIPHER.seal(account_id, _CREDENTIALS),
        event=event_payload(values),
    )
    return account_id


async def update_account(connection: asyncpg.Connection, account_id: uuid.UUID, **changes: Any) -> int:
    """Change fields (name, status, metadata, headline) with an `account.updated` event, with the
    statement the API uses; return the new version."""
    async with connection.transaction():
        row = await _locked(connection, account_id)
        values = {**row, **changes}
        written = await queries.update_account(
            connection, account_id=account_id,
            expected_version=row["version"],
            values=values,
            sealed_credentials=None,
            event={**event_payload(values), "changes": list(changes)},
        )
    assert written is not None
    return int(written["version"])


async def remove_account(connection: asyncpg.Connection, account_id: uuid.UUID) -> int:
    """Delete an account (kept as a tombstone row) with an `account.removed` event, as the API does."""
    async with connection.transaction():
        row = await _locked(connection, account_id)
        written = await queries.delete_account(
            connection, account_id=account_id, expected_version=row["version"], event=event_payload(row)
        )
    assert written is not None
    return int(written["version"])


async def _locked(connection: asyncpg.Connection, account_id: uuid.UUID) -> asyncpg.Record:
    # Locks the account row first, as the API does on a retried change, so events commit in version order.
    row = await queries.get_account(
        connection, account_id=account_id, organization_id=None, client_id=None, lock=True
    )
    assert row is not None, f"no live account {account_id}"
    return row


async def record_event(
    connection: asyncpg.Connection,
    *,
    event_type: str,
    snapshot: Mapping[str, Any],
    organization_id: uuid.UUID,
    client_id: uuid.UUID,
    account_id: uuid.UUID,
    account_version: int,
    changes: Sequence[str] = (),
) -> None:
    """An outbox event on its own, for tests that write the account row themselves (interleaved or
    rolled-back writers): the database function the API's statements call."""
    payload = dict(snapshot)
    if event_type == "account.updated":
        payload["changes"] = list(changes)
    await connection.execute(
        "SELECT record_event($1, $2, $3, $4, $5, $6, $7, $8)",
        uuid.uuid4(),
        event_type,
        account_id,
        organization_id,
        client_id,
        account_version,
        payload,
        CHANNEL,
    )


async def record_change_event(
    connection: asyncpg.Connection, event_type: Any, row: Mapping[str, Any], changes: Sequence[str] = ()
) -> None:
    """The outbox event of a change just written to `row`, in the caller's transaction."""
    await record_event(
        connection,
        event_type=event_type,
        snapshot=snapshot(row),
        organization_id=row["organization_id"],
        client_id=row["client_id"],
        account_id=row["id"],
        account_version=row["version"],
        changes=changes,
    )


class RunningRelay:
    """A relay running as a task of this event loop."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        self.relay = Relay(settings, **options)
        self.stats = self.relay.stats
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.relay.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(self._task, 30)


@asynccontextmanager
async def running_relay(settings: Settings, **options: Any) -> AsyncIterator[RunningRelay]:
    """A relay running in this event loop until the block ends."""
    running = RunningRelay(settings, **options)
    try:
        yield running
    finally:
        await running.stop()


def cli(*args: str, env: Mapping[str, str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start `accounts-service ARGS` with only the service variables given (plus PATH and HOME)."""
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "JAVA_HOME"}}
    return subprocess.Popen([sys.executable, "-m", "service", *args], env=base | dict(env), **popen)


def service_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a subprocess these settings (the ones the event tests change)."""
    names = [
        "database_url", "kafka_bootstrap_servers", "kafka_events_topic", "kafka_state_topic",
        "kafka_topic_partitions", "relay_poll_interval", "kafka_publish_timeout", "relay_batch_size",
        "log_level", "relay_transactional_id", "relay_takeover_after",
    ]  # fmt: skip
    return {name.upper(): str(getattr(settings, name)) for name in names}


async def read_topic(
    bootstrap: str, topic: str, until: Callable[[list[Record]], bool], timeout: float = 60.0
) -> list[Record]:
    """Read the topic from the beginning until `until(records so far)` holds; fail at the deadline."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: gave up after {timeout} s with {len(records)} records")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def kafka_settled(settings: Settings, timeout: float = 30.0) -> None:
    """Wait until every transaction on the test's topics is decided and its markers are written.

    A relay marks rows published once Kafka committed their transaction, but the broker writes the
    commit markers a moment later; until then a read_committed consumer's end is short of them.
    """
    servers = settings.kafka_bootstrap_servers
    topics = [settings.kafka_events_topic, settings.kafka_state_topic]
    # Subscribed, so the client keeps metadata for these topics: an unsubscribed consumer knows no
    # partitions (`topics()` fills a metadata copy of its own), and an empty list would settle at once.
    committed = AIOKafkaConsumer(*topics, bootstrap_servers=servers, isolation_level="read_committed")
    everything = AIOKafkaConsumer(bootstrap_servers=servers)
    await committed.start()
    await everything.start()
    try:
        await wait_until(lambda: all(committed.partitions_for_topic(t) for t in topics))
        partitions = [TopicPartition(t, p) for t in topics for p in committed.partitions_for_topic(t)]

        async def decided() -> bool:
            ends = await committed.end_offsets(partitions)
            return bool(ends == await everything.end_offsets(partitions))

        await wait_until(decided, timeout=timeout)
    finally:
        await committed.stop()
        await everything.stop()


async def versions_delivered(settings: Settings) -> tuple[dict[str, list[int]], int]:
    """What an application on the consumer helper sees once Kafka settled: the versions per account,
    and how many duplicates it dropped."""
    await kafka_settled(settings)
    consumer = AccountEventConsumer(settings.kafka_bootstrap_servers, [settings.kafka_events_topic])
    seen: dict[str, list[int]] = {}
    async with consumer:
        async for event in consumer.events(until_end=True):
            seen.setdefault(event.account_id, []).append(event.version)
    return seen, consumer.skipped


def count_at_least(n: int) -> Callable[[list[Record]], bool]:
    return lambda records: len(records) >= n


async def wait_until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll an (async) condition until it is truthy; return its value or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def headers_of(record: Record) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


def versions_by_account(records: Sequence[Record]) -> dict[str, list[int]]:
    """The account versions in the order each account's records appear (one partition per account)."""
    versions: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        versions.setdefault(record.key.decode(), []).append(int(headers_of(record)["ce_accountversion"]))
    return versions
