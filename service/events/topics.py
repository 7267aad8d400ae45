"""Creates the history and state topics when they are missing, with the configured layout."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from service.settings import Settings

log = logging.getLogger(__name__)
_MAX_REPLICAS = 3


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Each topic's configuration: time retention for history, compaction for state."""
    return {
        settings.kafka_events_topic: {
            "cleanup.policy": "delete",
            "retention.ms": str(settings.kafka_events_retention_ms),
        },
        settings.kafka_state_topic: STATE_TOPIC_CONFIG,
    }


# Compaction tuned so a rebuild reads about the live accounts, not the history: segments roll every
# 10 minutes (the active one is never cleaned) and are cleaned once 10 % of the log is superseded.
# Tombstones stay a day: a worker's rebuild must finish within delete.retention.ms, or it can miss one.
STATE_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "delete.retention.ms": "86400000",
    "segment.ms": "600000",
    "min.cleanable.dirty.ratio": "0.1",
}


async def ensure_topics(settings: Settings) -> list[str]:
    """Create whichever topic is missing; return the names created. Bounded by the publish timeout."""
    timeout = settings.kafka_publish_timeout
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="accounts-relay-admin",
        request_timeout_ms=int(timeout * 1000),
    )
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = topic_configs(settings)
            missing = [name for name in wanted if name not in existing]
            await _check_policies(admin, {n: c for n, c in wanted.items() if n in existing})
            if not missing:
                return []
            replicas = settings.kafka_topic_replication_factor or min(
                _MAX_REPLICAS, len((await admin.describe_cluster())["brokers"])
            )
            response = await admin.create_topics(
                [
                    NewTopic(name, settings.kafka_topic_partitions, replicas, topic_configs=wanted[name])
                    for name in missing
                ]
            )
    finally:
        await admin.close()
    created = []
    for name, code, *rest in response.topic_errors:
        error = for_code(code)
        if code == 0:
            created.append(name)
            log.info("created a topic", extra={"topic": name})
        elif error is not TopicAlreadyExistsError:
            # Another relay may have created it meanwhile; anything else must not be published into.
            raise error(f"creating topic {name}: {rest[0] if rest else error.message}")
    return created


async def _check_policies(admin: AIOKafkaAdminClient, wanted: dict[str, dict[str, str]]) -> None:
    """Log an existing topic whose configuration differs from the one the events need (left as it is)."""
    if not wanted:
        return
    topic = ConfigResourceType.TOPIC
    resources = [ConfigResource(topic, name, dict.fromkeys(config)) for name, config in wanted.items()]
    responses = await admin.describe_configs(resources)
    for response in responses:
        for _code, _message, _type, name, entries, *_ in response.resources:
            expected = wanted.get(name, {})
            for key, value, *_ in entries:
                if key in expected and value != expected[key]:
                    # A wrong policy loses data; other drift only makes rebuilds slower or less safe.
                    level = logging.ERROR if key == "cleanup.policy" else logging.WARNING
                    drift = {"topic": name, "config": key, "value": value, "expected": expected[key]}
                    log.log(level, "a topic config differs from the expected one", extra=drift)
