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
        # Tombstones must outlive a slow worker's bootstrap read, so deletes are kept for a day.
        settings.kafka_state_topic: {"cleanup.policy": "compact", "delete.retention.ms": "86400000"},
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
            log.info("created topic %s", name)
        elif error is not TopicAlreadyExistsError:
            # Another relay may have created it meanwhile; anything else must not be published into.
            raise error(f"creating topic {name}: {rest[0] if rest else error.message}")
    return created


async def _check_policies(admin: AIOKafkaAdminClient, wanted: dict[str, dict[str, str]]) -> None:
    """Log an existing topic whose clean-up policy is not the one the events need (left as it is)."""
    if not wanted:
        return
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, {"cleanup.policy": None}) for name in wanted]
    )
    for response in responses:
        for _code, _message, _type, name, entries, *_ in response.resources:
            policy = next((entry[1] for entry in entries if entry[0] == "cleanup.policy"), None)
            expected = wanted.get(name, {}).get("cleanup.policy")
            if policy is not None and policy != expected:
                log.error("topic %s has cleanup.policy=%s, expected %s", name, policy, expected)
