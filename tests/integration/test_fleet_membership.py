"""Fleet members that lose their membership give everything up; the state topic is made for rebuilds."""

from __future__ import annotations

import logging
import signal
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from service.events.topics import STATE_TOPIC_CONFIG, ensure_topics
from service.settings import Settings
from tests.eventing import event_settings, running_relay, wait_until
from tests.identity import Tenants
from tests.integration.accounts_support import Api
from tests.integration.fleet_support import (  # noqa: F401 - the rest fixture
    HEARTBEAT_INTERVAL_MS,
    SESSION_TIMEOUT_MS,
    Accounts,
    Member,
    describe,
    exact,
    rest_fixture,
    start_member,
)

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")


@pytest.fixture
async def fleet_settings(settings: Settings) -> Settings:
    mine = event_settings(settings, kafka_topic_partitions=4)
    await ensure_topics(mine)
    return mine


async def test_a_frozen_member_releases_everything_first_when_it_wakes_and_the_group_waited_for_it(
    fleet_settings: Settings, rest: Api, tenants: Tenants, db: asyncpg.Connection, tmp_path: Path
) -> None:
    accounts = Accounts(rest, tenants, db)
    for n in range(40):
        await accounts.create("whatsapp", n % 2)
    group = f"pool-{uuid.uuid4().hex[:8]}"
    members: list[Member] = []
    async with running_relay(fleet_settings):
        await wait_until(lambda: db.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"), 60)
        expected = await accounts.pollable()
        try:
            members += [await start_member(f"w{n}", fleet_settings, group, tmp_path) for n in range(2)]
            await wait_until(lambda: exact(members, expected) and all(m.owned for m in members), 90)
            frozen, other = members
            held = set(frozen.owned)

            # Frozen (as by a long GC pause or a stalled VM), it can neither heartbeat nor release.
            frozen.process.send_signal(signal.SIGSTOP)
            stopped_at = time.time()
            await wait_until(lambda: set(other.owned) == expected and other.settled, 60)
            mark = len(frozen.events)
            frozen.process.send_signal(signal.SIGCONT)

            # Awake, the first thing it says is that it gave up every account it held.
            await wait_until(lambda: len(frozen.events) >= mark + len(held), 30)
            woke = frozen.events[mark : mark + len(held)]
            assert {e["account"] for e in woke} == held
            assert {(e["event"], e["reason"]) for e in woke} == {("released", "revoked")}
            # And the group handed them over only once the frozen member's session had expired.
            taken = [
                e["at"]
                for e in other.events
                if e["event"] == "assigned" and e["account"] in held and e["at"] > stopped_at
            ]
            assert len(taken) >= len(held)
            # (The session runs from its last heartbeat, at most one interval before the freeze.)
            assert min(taken) >= stopped_at + (SESSION_TIMEOUT_MS - HEARTBEAT_INTERVAL_MS) / 1000 - 0.1

            # It rejoins as a new member and gets a share again.
            await wait_until(lambda: exact(members, expected) and frozen.owned and frozen.settled, 60)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{describe(members, tmp_path)}") from exc
        finally:
            for member in members:
                member.process.send_signal(signal.SIGCONT)
            codes = [await m.terminate() for m in members]
    assert codes == [0, 0]


async def _listed(admin: AIOKafkaAdminClient, topic: str) -> bool:
    return topic in await admin.list_topics()


async def _state_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    return {entry[0]: entry[1] for resource in response.resources for entry in resource[4]}


async def test_the_state_topic_is_created_for_cheap_rebuilds_and_drift_is_reported(
    settings: Settings, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    created = event_settings(settings)
    await ensure_topics(created)
    config = await _state_config(kafka_bootstrap, created.kafka_state_topic)
    assert {key: config[key] for key in STATE_TOPIC_CONFIG} == STATE_TOPIC_CONFIG
    # A rebuild must finish within delete.retention.ms: at least an hour, far beyond any rebuild.
    assert int(config["delete.retention.ms"]) >= 3600_000

    # A state topic someone made by hand: compacted, tombstones kept a minute, the rest the defaults.
    drifted = event_settings(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        by_hand = {"cleanup.policy": "compact", "delete.retention.ms": "60000"}
        await admin.create_topics([NewTopic(drifted.kafka_state_topic, 1, 1, topic_configs=by_hand)])
        await wait_until(lambda: _listed(admin, drifted.kafka_state_topic))
    finally:
        await admin.close()
    with caplog.at_level(logging.WARNING, logger="service.events.topics"):
        assert await ensure_topics(drifted) == [drifted.kafka_events_topic]
    warned = {r.config for r in caplog.records if getattr(r, "topic", None) == drifted.kafka_state_topic}
    assert warned == {"segment.ms", "min.cleanable.dirty.ratio", "delete.retention.ms"}
