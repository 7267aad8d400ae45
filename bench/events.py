"""The event path: a relay draining a backlog, the bare producer (B3), commit→ack latency, outbox size."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg
import msgspec
from aiokafka import AIOKafkaProducer

from service.events.cloudevents import history_record, state_record
from service.events.store import OutboxStore
from service.events.topics import ensure_topics
from service.settings import Settings

_BACKLOG = """
WITH a AS (
    SELECT *, row_number() OVER () AS r FROM (
        SELECT * FROM accounts WHERE deleted_at IS NULL AND organization_id <> $2 LIMIT 10000
    ) AS sample
), n AS (SELECT count(*) AS n FROM a)
INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id, account_version, payload)
SELECT gen_random_uuid(), 'account.updated', a.id, a.organization_id, a.client_id, a.version + 1 + g / n.n,
       jsonb_build_object(
           'id', a.id::text, 'name', a.name, 'headline', a.headline, 'avatar', a.avatar,
           'provider', a.provider, 'type', a.type, 'integration', '/api/integrations/' || a.integration,
           'externalId', a.external_id, 'client', '/api/clients/' || a.client_id, 'status', a.status,
           'statusReason', a.status_reason, 'settings', a.settings, 'metadata', a.metadata,
           'version', a.version + 1 + g / n.n,
           'createdAt', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
           'updatedAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
           'changes', jsonb_build_array('headline'))
FROM generate_series(0, $1 - 1) AS g, n JOIN a ON true
WHERE a.r = 1 + g % n.n
ORDER BY g
"""


async def max_position(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT coalesce(max(position), 0) FROM outbox"))
    finally:
        await connection.close()


async def write_backlog(dsn: str, events: int, exclude_org: object) -> int:
    """Insert `events` pending outbox rows (updates of seeded accounts); return the position before them."""
    connection = await asyncpg.connect(dsn)
    try:
        before = int(await connection.fetchval("SELECT coalesce(max(position), 0) FROM outbox"))
        await connection.execute(_BACKLOG, events, exclude_org)
        await connection.execute("ANALYZE outbox")
        return before
    finally:
        await connection.close()


async def pending(dsn: str, after: int) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL AND position > $1", after
            )
        )
    finally:
        await connection.close()


@dataclass(frozen=True, slots=True)
class Drain:
    events: int
    wall_seconds: float
    publish_seconds: float

    @property
    def rate(self) -> float:
        """Events per second from the first to the last row marked published."""
        return self.events / self.publish_seconds if self.publish_seconds else 0.0


async def wait_drained(dsn: str, after: int, started: float, timeout: float = 900.0) -> Drain:
    """Poll until every row after `after` is published; then read the publish span from the rows."""
    connection = await asyncpg.connect(dsn)
    try:
        while await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND position > $1)", after
        ):
            if time.monotonic() - started > timeout:
                raise RuntimeError("the relay did not drain the backlog in time")
            await asyncio.sleep(0.1)
        wall = time.monotonic() - started
        row = await connection.fetchrow(
            "SELECT count(*) AS n, extract(epoch FROM max(published_at) - min(published_at))::float8 AS span "
            "FROM outbox WHERE position > $1",
            after,
        )
        assert row is not None
        return Drain(int(row["n"]), wall, float(row["span"] or 0.0))
    finally:
        await connection.close()


async def bare_producer(settings: Settings, dsn: str, after: int, limit: int) -> tuple[int, float]:
    """B3: the same records (both topics) from an idempotent aiokafka producer; (events, seconds)."""
    connection = await asyncpg.connect(dsn)
    try:
        # The relay's own reader (the backlog is all that is pending), so the records are the relay's.
        rows = [e for e in await OutboxStore(connection).pending(limit) if e.position > after]
    finally:
        await connection.close()
    topics = msgspec.structs.replace(
        settings, kafka_events_topic="bench.b3.events", kafka_state_topic="bench.b3.state"
    )
    await ensure_topics(topics)
    records = [(topics.kafka_events_topic, history_record(e)) for e in rows]
    records += [(topics.kafka_state_topic, state_record(e)) for e in rows]
    records.sort(key=lambda item: item[1].key)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=r.value, key=r.key, headers=r.headers) for topic, r in records
        ]
        await asyncio.gather(*futures)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    return len(rows), seconds


@dataclass(frozen=True, slots=True)
class Latency:
    events: int
    p50: float
    p99: float
    max: float


# Per event: from the commit of the change that wrote it (the server keeps commit timestamps in the
# bench, track_commit_timestamp; the row's txid names the writing transaction) to `published_at`, which
# the relay sets right after Kafka acknowledged (acks=all) the batch holding the event.
_LATENCY = """
WITH latency AS (
    SELECT extract(epoch FROM published_at - pg_xact_commit_timestamp(txid::text::xid)) AS seconds
    FROM outbox
    WHERE position > $1 AND position <= $2 AND published_at IS NOT NULL
)
SELECT count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY seconds) AS p99,
       max(seconds)::float8 AS worst
FROM latency
"""


async def event_latency(dsn: str, after: int, until: int, timeout: float = 120.0) -> Latency:
    """Commit → Kafka ack of the events in (after, until], once all of them are published."""
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND position > $1 "
            "AND position <= $2)",
            after,
            until,
        ):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        row = await connection.fetchrow(_LATENCY, after, until)
        assert row is not None
        return Latency(
            int(row["n"]), float(row["p50"] or 0), float(row["p99"] or 0), float(row["worst"] or 0)
        )
    finally:
        await connection.close()


async def outbox_size(dsn: str) -> tuple[int, int]:
    """(rows, pending rows) in the outbox."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS total, count(*) FILTER (WHERE published_at IS NULL) AS pending FROM outbox"
        )
        assert row is not None
        return int(row["total"]), int(row["pending"])
    finally:
        await connection.close()
