"""The relay against real PostgreSQL and Kafka: what is published, in which order, and what is not."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from subprocess import PIPE

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from msgspec.structs import replace

from service.events import metrics
from service.settings import Settings
from tests.eventing import (
    RunningRelay,
    Tenant,
    cli,
    connect,
    count_at_least,
    create_account,
    event_settings,
    headers_of,
    read_topic,
    record_change_event,
    record_event,
    remove_account,
    running_relay,
    snapshot,
    update_account,
    versions_by_account,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")


async def _outbox(conn: asyncpg.Connection, account_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM outbox WHERE account_id = $1 ORDER BY position", account_id)


async def test_every_event_type_is_published_with_its_headers_key_version_and_payload(
    relay_settings: Settings, kafka_bootstrap: str, conn: asyncpg.Connection, tenant: Tenant,
) -> None:
    account = await create_account(conn, tenant)
    await update_account(conn, account, name="Michael G. Scott", status="connected")
    await remove_account(conn, account)
    # A change that rolls back leaves nothing to publish.
    ghost = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with conn.transaction():
            row = await conn.fetchrow("SELECT * FROM accounts WHERE id = $1", account)
            await record_event(
                conn,
                event_type="account.updated",
                snapshot=snapshot(row) | {"id": str(ghost)},
                organization_id=tenant.organization_id,
                client_id=tenant.client_id,
                account_id=ghost,
                account_version=9,
            )
            raise RuntimeError("the request failed after writing")
    marker = await create_account(conn, tenant)
    rows = await _outbox(conn, account)

    async with running_relay(relay_settings):
        history = await read_topic(kafka_bootstrap, relay_settings.kafka_events_topic, count_at_least(4))
        state = await read_topic(kafka_bootstrap, relay_settings.kafka_state_topic, count_at_least(4))
        await wait_until(lambda: conn.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"))

    assert len(history) == len(state) == 4
    mine = [r for r in sorted(history, key=lambda r: r.offset) if r.key == str(account).encode()]
    assert [headers_of(r)["ce_type"] for r in mine] == [
        "account.connected",
        "account.updated",
        "account.removed",
    ]
    assert {r.key for r in history} == {str(account).encode(), str(marker).encode()}
    for record, row in zip(mine, rows, strict=True):
        headers = headers_of(record)
        assert [name for name, _ in record.headers] == [
            "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time", "content-type",
            "ce_partitionkey", "ce_organization", "ce_client", "ce_accountversion",
        ]  # fmt: skip
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_id"] == str(row["event_id"])
        assert headers["ce_source"] == "/accounts-service"
        assert headers["ce_subject"] == headers["ce_partitionkey"] == str(account)
        assert headers["content-type"] == "application/json"
        assert headers["ce_organization"] == str(tenant.organization_id)
        assert headers["ce_client"] == str(tenant.client_id)
        assert headers["ce_accountversion"] == str(row["account_version"])
        assert headers["ce_time"].startswith(row["created_at"].isoformat()[:19])
        assert json.loads(record.value) == row["payload"]
    connected, updated, removed = (json.loads(r.value) for r in mine)
    assert (connected["version"], updated["version"], removed["version"]) == (1, 2, 3)
    assert connected["status"] == "connecting" and "changes" not in connected
    assert updated["changes"] == ["name", "status"] and updated["name"] == "Michael G. Scott"
    assert "credentials" not in json.dumps([connected, updated, removed])

    mine_state = [r for r in sorted(state, key=lambda r: r.offset) if r.key == str(account).encode()]
    assert [json.loads(r.value) if r.value else None for r in mine_state] == [
        connected,
        {k: v for k, v in updated.items() if k != "changes"},
        None,
    ]
    tombstone = headers_of(mine_state[-1])
    assert tombstone["ce_type"] == "account.removed" and "content-type" not in tombstone


async def test_late_commit_with_a_lower_position_is_still_published(
    relay_settings: Settings, kafka_bootstrap: str, database_url: str, tenant: Tenant,
    conn: asyncpg.Connection,
) -> None:
    early, late = await create_account(conn, tenant), await create_account(conn, tenant)
    slow, fast = await connect(database_url), await connect(database_url)
    published = "SELECT published_at FROM outbox WHERE account_id = $1 AND account_version = 2"
    try:
        async with running_relay(relay_settings):
            await read_topic(kafka_bootstrap, relay_settings.kafka_events_topic, count_at_least(2))
            slow_tx = slow.transaction()
            await slow_tx.start()
            await update_account(slow, early, name="takes position N, commits last")
            await update_account(fast, late, name="takes position N+1, commits first")
            # N+1 is published while N is still invisible to the relay...
            await wait_until(lambda: conn.fetchval(published, late))
            await slow_tx.commit()
            # ...and N is not skipped once it commits.
            await wait_until(lambda: conn.fetchval(published, early))
            history = await read_topic(kafka_bootstrap, relay_settings.kafka_events_topic, count_at_least(4))
    finally:
        await slow.close()
        await fast.close()

    rows = await conn.fetch("SELECT account_id, position, published_at FROM outbox WHERE account_version = 2")
    by_account = {r["account_id"]: r for r in rows}
    assert by_account[early]["position"] < by_account[late]["position"]
    assert by_account[late]["published_at"] < by_account[early]["published_at"]
    assert versions_by_account(history) == {str(early): [1, 2], str(late): [1, 2]}


async def test_concurrent_writers_deliver_every_version_in_order_per_account(
    relay_settings: Settings, kafka_bootstrap: str, database_url: str, tenant: Tenant,
    conn: asyncpg.Connection,
) -> None:
    accounts = [await create_account(conn, tenant) for _ in range(20)]
    updates_per_writer, writers = 30, 6
    rng = random.Random(5)

    async def writer(seed: int) -> None:
        connection = await connect(database_url)
        mine = random.Random(seed)
        try:
            for i in range(updates_per_writer):
                account = mine.choice(accounts)
                async with connection.transaction():
                    row = await connection.fetchrow(
                        "UPDATE accounts SET version = version + 1, name = $2, updated_at = now()"
                        " WHERE id = $1 RETURNING *",
                        account,
                        f"writer {seed} change {i}",
                    )
                    # Hold the transaction open a little so commits interleave with other writers'.
                    await asyncio.sleep(mine.random() * 0.01)
                    await record_change_event(connection, "account.updated", row, ["name"])
                    await asyncio.sleep(mine.random() * 0.01)
        finally:
            await connection.close()

    total = len(accounts) + writers * updates_per_writer
    async with running_relay(replace(relay_settings, relay_batch_size=25)):
        await asyncio.gather(*(writer(rng.randrange(10**6)) for _ in range(writers)))
        history = await read_topic(kafka_bootstrap, relay_settings.kafka_events_topic, count_at_least(total))

    assert len(history) == total
    final = {r["id"]: r["version"] for r in await conn.fetch("SELECT id, version FROM accounts")}
    versions = versions_by_account(history)
    assert versions == {str(a): list(range(1, final[a] + 1)) for a in accounts}


async def test_an_unpublishable_event_is_parked_and_holds_back_only_its_own_account(
    relay_settings: Settings, kafka_bootstrap: str, database_url: str, tenant: Tenant,
    conn: asyncpg.Connection,
) -> None:
    settings = replace(relay_settings, relay_max_attempts=2)
    big, other = await create_account(conn, tenant), await create_account(conn, tenant)
    # Larger than a Kafka record may be: it can never be published.
    await update_account(conn, big, metadata={"blob": "x" * 1_100_000})
    await update_account(conn, big, name="after the big one", metadata={})
    await update_account(conn, other, name="unrelated account")
    stats = metrics.RelayStats()
    async with running_relay(settings, stats=stats, stats_interval=0.1):
        history = await read_topic(kafka_bootstrap, settings.kafka_events_topic, count_at_least(3))
        await wait_until(lambda: stats.parked == 1)
        assert stats.parked_total == 1 and stats.failed_attempts_total == 2
        parked = await conn.fetchrow("SELECT * FROM outbox WHERE parked_at IS NOT NULL")
        assert (parked["account_id"], parked["account_version"], parked["attempts"]) == (big, 2, 2)
        assert "MessageSizeTooLarge" in parked["last_error"]
        # The other account's events flowed; the big account's later event waits behind the parked one.
        assert sorted(versions_by_account(history).items()) == sorted(
            {str(big): [1], str(other): [1, 2]}.items()
        )
        waiting = await conn.fetchval(
            "SELECT published_at FROM outbox WHERE account_id = $1 AND account_version = 3", big
        )
        assert waiting is None
        # The operator gives up on the parked event: the account's later events flow again.
        discard = cli("relay", "--discard-parked", env={"DATABASE_URL": database_url}, stderr=PIPE)
        _, err = await asyncio.to_thread(discard.communicate, timeout=60)
        assert discard.returncode == 0 and b"1 parked events discarded" in err
        history = await read_topic(kafka_bootstrap, settings.kafka_events_topic, count_at_least(4))
        await wait_until(lambda: stats.parked == 0)
    assert versions_by_account(history)[str(big)] == [1, 3]


async def test_topics_are_created_with_the_configured_layout(
    settings: Settings, kafka_bootstrap: str, conn: asyncpg.Connection, tenant: Tenant,
) -> None:
    relay_settings = event_settings(settings)
    await create_account(conn, tenant)
    async with running_relay(relay_settings):
        await wait_until(lambda: conn.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"))
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        topics = {
            t["topic"]: len(t["partitions"])
            for t in await admin.describe_topics(
                [relay_settings.kafka_events_topic, relay_settings.kafka_state_topic]
            )
        }
        responses = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, relay_settings.kafka_events_topic),
                ConfigResource(ConfigResourceType.TOPIC, relay_settings.kafka_state_topic),
            ]
        )
    finally:
        await admin.close()
    configs = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in responses
        for resource in response.resources
    }
    assert topics == {relay_settings.kafka_events_topic: 3, relay_settings.kafka_state_topic: 3}
    assert configs[relay_settings.kafka_state_topic]["cleanup.policy"] == "compact"
    assert configs[relay_settings.kafka_events_topic]["cleanup.policy"] == "delete"
    assert configs[relay_settings.kafka_events_topic]["retention.ms"] == str(7 * 24 * 3600 * 1000)


async def test_published_rows_are_deleted_after_the_retention_period(
    relay_settings: Settings, kafka_bootstrap: str, conn: asyncpg.Connection, tenant: Tenant,
) -> None:
    settings = replace(relay_settings, outbox_retention_seconds=0.5)
    accounts = [await create_account(conn, tenant) for _ in range(3)]
    async with running_relay(settings, cleanup_interval=0.2):
        await read_topic(kafka_bootstrap, settings.kafka_events_topic, count_at_least(3))
        await wait_until(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox"))
    assert len(accounts) == 3


async def test_with_kafka_unreachable_events_wait_and_the_backlog_is_reported(
    relay_settings: Settings, conn: asyncpg.Connection, tenant: Tenant,
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    down = replace(relay_settings, kafka_bootstrap_servers="127.0.0.1:9", kafka_publish_timeout=1.0)
    for _ in range(3):
        await create_account(conn, tenant)
    stats = metrics.RelayStats()
    registry = CollectorRegistry()
    registry.register(metrics.RelayCollector(stats))
    async with running_relay(down, stats=stats, stats_interval=0.1):
        await wait_until(lambda: stats.active and stats.kafka_errors_total >= 1 and stats.backlog == 3)
        await wait_until(lambda: stats.oldest_pending_age > 0)
    exposition = generate_latest(registry).decode()
    assert "accounts_relay_backlog_events 3.0" in exposition
    assert "accounts_relay_kafka_available 0.0" in exposition
    assert not stats.kafka_available
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 3


async def test_a_standby_relay_takes_over_when_the_active_one_stops(
    relay_settings: Settings, kafka_bootstrap: str, conn: asyncpg.Connection, tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = await create_account(conn, tenant)
    caplog.set_level(logging.INFO, logger="service.events")
    async with running_relay(relay_settings) as active:
        await wait_until(lambda: active.stats.active)
        async with running_relay(relay_settings) as standby:
            await read_topic(kafka_bootstrap, relay_settings.kafka_events_topic, count_at_least(1))
            # It has asked for the lock and been refused: a live active relay is never taken over.
            await wait_until(lambda: "waiting as standby" in caplog.text)
            assert not standby.stats.active
            await active.stop()
            await wait_until(lambda: standby.stats.active)
            second = await create_account(conn, tenant)
            history = await read_topic(kafka_bootstrap, relay_settings.kafka_events_topic, count_at_least(2))
    assert sorted(r.key.decode() for r in history) == sorted([str(first), str(second)])


def _notified_only(settings: Settings, window: float) -> Settings:
    """The relay with this batching window, woken within a test's time only by NOTIFY (long poll)."""
    return replace(settings, relay_poll_interval=10.0, relay_batch_window=window)


@asynccontextmanager
async def _one_published(
    settings: Settings, conn: asyncpg.Connection, tenant: Tenant,
) -> AsyncIterator[RunningRelay]:
    """A relay running with `settings` that has published one new account's event."""
    await create_account(conn, tenant)
    async with running_relay(settings) as relay:
        await wait_until(lambda: relay.stats.published_total == 1)
        yield relay


async def test_events_written_within_the_window_go_out_in_one_round(
    relay_settings: Settings, kafka_bootstrap: str, conn: asyncpg.Connection, tenant: Tenant,
) -> None:
    async with _one_published(_notified_only(relay_settings, 2.0), conn, tenant) as relay:
        # Separate transactions right after that round: the first NOTIFY finds the relay inside the
        # window, so it waits the window out and then reads them all.
        for _ in range(10):
            await create_account(conn, tenant)
        await wait_until(lambda: relay.stats.published_total == 11)
        assert relay.stats.batches_total == 2
        history = await read_topic(kafka_bootstrap, relay_settings.kafka_events_topic, count_at_least(11))
    assert len(history) == 11


async def test_without_a_window_each_notified_event_goes_out_at_once(
    relay_settings: Settings, conn: asyncpg.Connection, tenant: Tenant,
) -> None:
    async with _one_published(_notified_only(relay_settings, 0.0), conn, tenant) as relay:
        for published in range(2, 5):
            await create_account(conn, tenant)
            # Right after the previous round and well before the poll interval: NOTIFY alone did it.
            await wait_until(lambda n=published: relay.stats.published_total == n, timeout=5)
        assert relay.stats.batches_total == 4


async def test_a_backlog_goes_out_in_full_batches_without_waiting_for_the_window(
    relay_settings: Settings, conn: asyncpg.Connection, tenant: Tenant,
) -> None:
    settings = replace(_notified_only(relay_settings, 9.0), relay_batch_size=2)
    for _ in range(5):
        await create_account(conn, tenant)
    async with running_relay(settings) as relay:
        # Rounds of 2, 2 and 1; waiting the window after each full one would take 18 s.
        await wait_until(lambda: relay.stats.published_total == 5, timeout=8)
        assert relay.stats.batches_total == 3


async def test_stopping_does_not_wait_for_the_window(
    relay_settings: Settings, conn: asyncpg.Connection, tenant: Tenant,
) -> None:
    async with _one_published(_notified_only(relay_settings, 9.0), conn, tenant) as relay:
        # After that round (not a full batch) the relay waits out the window before looking again.
        late = await create_account(conn, tenant)
        started = time.monotonic()
        await relay.stop()
        stopping = time.monotonic() - started
    assert stopping < 3
    assert relay.stats.published_total == 1
    assert await conn.fetchval("SELECT published_at FROM outbox WHERE account_id = $1", late) is None
