"""Kafka stopped in the middle of a stream of writes: writes go on; the events follow once it is back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest
from litestar.testing import AsyncTestClient

from devtools.kafka import LocalKafka
from service.app import create_app
from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import (
    Record,
    connect,
    event_settings,
    read_topic,
    running_relay,
    versions_by_account,
    wait_until,
)
from tests.identity import Tenants
from tests.integration.accounts_support import Api, new_account

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")

PUBLISHED = "published_at IS NOT NULL"


async def test_the_api_keeps_answering_while_kafka_is_down_and_every_event_arrives_in_order_after(
    settings: Settings,
    database_url: str,
    own_kafka: LocalKafka,
    tenants: Tenants,
    token_for: Callable[..., str],
) -> None:
    relay_settings = event_settings(
        settings, kafka_bootstrap_servers=own_kafka.bootstrap_servers, kafka_publish_timeout=2.0
    )
    await ensure_topics(relay_settings)
    stack = AsyncExitStack()
    conn = await connect(database_url)
    stack.push_async_callback(conn.close)
    latencies: list[float] = []
    writing = asyncio.Event()
    writing.set()
    # The API is configured with the broker that goes down, as in production.
    http = await stack.enter_async_context(AsyncTestClient(app=create_app(relay_settings)))
    api = Api(http, token_for)
    owner = tenants.a.owner
    accounts = [
        (await api.created(owner, new_account(tenants.a, externalId=f"+1555555{i:04d}")))["id"]
        for i in range(8)
    ]

    async def write_stream() -> None:
        i = 0
        while writing.is_set():
            started = time.monotonic()
            response = await api.patch(
                owner, f"/api/accounts/{accounts[i % len(accounts)]}", {"name": f"c{i}"}
            )
            assert response.status_code == 200, response.text
            latencies.append(time.monotonic() - started)
            i += 1
            await asyncio.sleep(0.02)

    writes = asyncio.create_task(write_stream())

    def written(count: int) -> bool:
        if writes.done():
            writes.result()  # a failed write fails the test here, with its own message
        return len(latencies) >= count

    try:
        async with running_relay(relay_settings) as relay:
            await wait_until(lambda: written(20))
            await wait_until(lambda: conn.fetchval(f"SELECT count(*) >= 20 FROM outbox WHERE {PUBLISHED}"))
            await asyncio.to_thread(own_kafka.stop)
            before_outage = len(latencies)
            await wait_until(lambda: not relay.stats.kafka_available, timeout=60)
            await wait_until(lambda: written(before_outage + 30))
            waiting = await conn.fetchval(f"SELECT count(*) FROM outbox WHERE NOT {PUBLISHED}")
            await asyncio.to_thread(own_kafka.start)
            await wait_until(lambda: written(before_outage + 60), timeout=60)
            writing.clear()
            await writes
            await wait_until(lambda: conn.fetchval(f"SELECT bool_and({PUBLISHED}) FROM outbox"), timeout=120)
        final = {r["id"]: r["version"] for r in await conn.fetch("SELECT id, version FROM accounts")}
        # Resent batches add duplicates, so a record count says nothing: read until every account's
        # last version has arrived.
        history = await read_topic(
            own_kafka.bootstrap_servers, relay_settings.kafka_events_topic, last_versions_seen(final), 120
        )
    finally:
        writing.clear()
        await asyncio.gather(writes, return_exceptions=True)
        await stack.aclose()

    assert waiting > 0
    # Every write was answered 200 (checked as it went), and none waited on Kafka.
    assert max(latencies) < 2.0
    # At least once: a batch cut off by the outage may be sent again, but a consumer that keeps only
    # versions above the last one it applied still sees every version of every account, in order.
    assert {a: applied(v) for a, v in versions_by_account(history).items()} == {
        a: list(range(1, final[uuid.UUID(a)] + 1)) for a in accounts
    }


def last_versions_seen(final: dict[uuid.UUID, int]) -> Callable[[list[Record]], bool]:
    def seen(records: list[Record]) -> bool:
        versions = versions_by_account(records)
        return all(final[account] in versions.get(str(account), []) for account in final)

    return seen


def applied(versions: list[int]) -> list[int]:
    """The versions a consumer applies: each one above the last applied, in arrival order."""
    kept: list[int] = []
    for version in versions:
        if not kept or version > kept[-1]:
            kept.append(version)
    return kept
