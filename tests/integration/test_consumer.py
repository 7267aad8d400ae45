"""The consumer helper and the example inbox worker, against the real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from service.events.cloudevents import history_record
from service.events.consumer import AccountEventConsumer, MemoryState
from service.events.store import OutboxEvent
from service.events.worker_example import Inbox, bootstrap
from service.settings import Settings
from tests.eventing import (
    Tenant,
    create_account,
    kafka_settled,
    remove_account,
    running_relay,
    service_env,
    update_account,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")


def _event(account: uuid.UUID, version: int, event_id: uuid.UUID | None = None) -> OutboxEvent:
    return OutboxEvent(
        position=version,
        event_id=event_id or uuid.uuid4(),
        event_type="account.connected" if version == 1 else "account.updated",
        account_id=account,
        organization_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        account_version=version,
        payload={
            "id": str(account),
            "name": f"version {version}",
            "provider": "whatsapp",
            "type": "whatsapp",
            "integration": "/api/integrations/whatsapp",
            "client": "/api/clients/3f0b7c7e-8a51-4d5e-9a56-5b8e6f1f2a10",
            "status": "connecting",
            "version": version,
            "createdAt": "2025-03-27T15:00:49+00:00",
        }
        | ({"changes": ["name"]} if version > 1 else {}),
        created_at=datetime.now(UTC),
    )


async def _produce(settings: Settings, events: list[OutboxEvent], junk: bool = False) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            record = history_record(event)
            await producer.send_and_wait(
                settings.kafka_events_topic, record.value, key=record.key, headers=record.headers
            )
        if junk:
            await producer.send_and_wait(settings.kafka_events_topic, b"not an event", key=b"x")
    finally:
        await producer.stop()


async def test_each_event_is_handed_over_once_per_account_version(relay_settings: Settings) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    a1, a2, a3, b1 = _event(a, 1), _event(a, 2), _event(a, 3), _event(b, 1)
    replay_of_a2 = _event(a, 2, a2.event_id)
    # Duplicates and a stale version, as a relay restart or a replay would produce them.
    await _produce(relay_settings, [a1, b1, a2, a1, replay_of_a2, a3, a2], junk=True)

    mine = relay_settings
    consumer = AccountEventConsumer(mine.kafka_bootstrap_servers, [mine.kafka_events_topic])
    async with consumer:
        got = [(e.account_id, e.version, e.id) async for e in consumer.events(until_end=True)]

    assert [(acc, v) for acc, v, _ in got if acc == str(a)] == [(str(a), 1), (str(a), 2), (str(a), 3)]
    assert [(acc, v) for acc, v, _ in got if acc == str(b)] == [(str(b), 1)]
    assert len({event_id for _, _, event_id in got}) == 4
    assert consumer.skipped == 3


async def test_an_event_whose_handling_failed_is_offered_again(relay_settings: Settings) -> None:
    account = uuid.uuid4()
    await _produce(relay_settings, [_event(account, 1), _event(account, 2), _event(account, 3)])
    state = MemoryState()
    servers, names = relay_settings.kafka_bootstrap_servers, [relay_settings.kafka_events_topic]

    async with AccountEventConsumer(servers, names, state=state) as first:
        with pytest.raises(RuntimeError):
            async for event in first.events(until_end=True):
                if event.version == 2:
                    raise RuntimeError("the application crashed while applying version 2")
    assert state.last_version(str(account)) == 1

    async with AccountEventConsumer(servers, names, state=state) as second:
        assert [e.version async for e in second.events(until_end=True)] == [2, 3]


async def test_reading_to_the_end_with_a_group_waits_for_the_group_to_assign_partitions(
    relay_settings: Settings,
) -> None:
    account = uuid.uuid4()
    await _produce(relay_settings, [_event(account, 1), _event(account, 2)])
    group = f"g-{uuid.uuid4().hex}"
    servers, names = relay_settings.kafka_bootstrap_servers, [relay_settings.kafka_events_topic]

    # Right after start the member has not joined yet: its assignment is empty, not its end.
    async with AccountEventConsumer(servers, names, group_id=group) as consumer:
        got = [e.version async for e in consumer.events(until_end=True)]
    assert got == [1, 2]


async def test_kafka_settled_waits_for_an_open_transaction(relay_settings: Settings) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=relay_settings.kafka_bootstrap_servers, transactional_id=f"{uuid.uuid4().hex}"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        record = history_record(_event(uuid.uuid4(), 1))
        await producer.send_and_wait(relay_settings.kafka_state_topic, record.value, key=record.key)
        with pytest.raises(AssertionError, match="not met"):
            await kafka_settled(relay_settings, timeout=1.0)
        await producer.commit_transaction()
        await kafka_settled(relay_settings)
    finally:
        await producer.stop()


async def test_the_compacted_topic_rebuilds_exactly_the_live_account_set(
    relay_settings: Settings, conn: asyncpg.Connection, tenant: Tenant
) -> None:
    accounts = [await create_account(conn, tenant) for _ in range(12)]
    for account in accounts[:6]:
        await update_account(conn, account, status="connected")
    await update_account(conn, accounts[6], status="paused")
    for account in accounts[4:6] + accounts[9:11]:
        await remove_account(conn, account)
    async with running_relay(relay_settings):
        await wait_until(lambda: conn.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"))

    await kafka_settled(relay_settings)
    inbox = Inbox()
    await bootstrap(relay_settings, MemoryState(), inbox)

    live = await conn.fetch("SELECT id, version, status FROM accounts WHERE deleted_at IS NULL")
    assert {k: (a.version, a.status) for k, a in inbox.accounts.items()} == {
        str(r["id"]): (r["version"], r["status"]) for r in live
    }
    assert len(inbox.accounts) == 8
    assert str(accounts[6]) not in {a.id for a in inbox.pollable()}


async def test_the_example_worker_prints_the_live_accounts_then_follows_changes(
    relay_settings: Settings, conn: asyncpg.Connection, tenant: Tenant
) -> None:
    kept, removed = await create_account(conn, tenant), await create_account(conn, tenant)
    await remove_account(conn, removed)
    async with running_relay(relay_settings):
        await wait_until(lambda: conn.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"))
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "worker-example",
            env={"PATH": os.environ["PATH"], **service_env(relay_settings)},
            stdout=asyncio.subprocess.PIPE,
        )
        assert worker.stdout is not None
        lines: list[str] = []

        async def line_with(text: str) -> str:
            while True:
                line = (await asyncio.wait_for(worker.stdout.readline(), 60)).decode()
                assert line, f"the worker exited; it printed: {lines}"
                lines.append(line)
                if text in line:
                    return line

        try:
            assert "1 live accounts; would poll 1" in await line_with("live accounts")
            assert str(kept) in await line_with(str(kept))
            await line_with("following")
            added = await create_account(conn, tenant)
            assert "connected" in await line_with(str(added))
            await update_account(conn, kept, name="renamed")
            assert "updated [name]" in await line_with(str(kept))
            await remove_account(conn, kept)
            assert "removed" in await line_with(str(kept))
            assert "now polling 1 accounts" in await line_with("now polling")
        finally:
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(worker.wait(), 30) == 0
    assert str(removed) not in "".join(lines)


async def test_with_a_group_handled_events_are_committed_and_not_offered_again(
    relay_settings: Settings,
) -> None:
    account = uuid.uuid4()
    await _produce(relay_settings, [_event(account, 1), _event(account, 2)])
    servers, names, group = (
        relay_settings.kafka_bootstrap_servers,
        [relay_settings.kafka_events_topic],
        f"g-{uuid.uuid4().hex}",
    )

    seen: list[int] = []

    async def handle(consumer: AccountEventConsumer) -> None:
        async for event in consumer:
            seen.append(event.version)

    async with AccountEventConsumer(servers, names, group_id=group) as first:
        handling = asyncio.create_task(handle(first))
        await wait_until(lambda: len(seen) == 2, timeout=60)
        # The loop is waiting for a third event, so version 2 counts as handled; stop() commits it.
        handling.cancel()
        await asyncio.gather(handling, return_exceptions=True)
    assert seen == [1, 2]

    await _produce(relay_settings, [_event(account, 3)])
    # A fresh process (empty state) of the same group resumes after what the group handled.
    async with AccountEventConsumer(servers, names, group_id=group) as second:
        event = await asyncio.wait_for(anext(aiter(second)), 60)
    assert event.version == 3
