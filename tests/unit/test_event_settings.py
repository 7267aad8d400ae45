"""The event settings: defaults, and one clear line for a bad value."""

from __future__ import annotations

import pytest

from service.settings import SettingsError, load_settings

URL = "postgresql://app@localhost/accounts"


def test_defaults_name_the_spec_topics() -> None:
    settings = load_settings({"DATABASE_URL": URL})
    assert (settings.kafka_events_topic, settings.kafka_state_topic) == ("accounts.events", "accounts.state")
    assert settings.relay_max_attempts >= 1 and settings.kafka_publish_timeout > 0
    assert 0 < settings.relay_batch_window < settings.relay_poll_interval


def test_a_batch_window_of_zero_turns_it_off() -> None:
    assert load_settings({"DATABASE_URL": URL, "RELAY_BATCH_WINDOW": "0"}).relay_batch_window == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KAFKA_EVENTS_TOPIC", "bad topic!", "KAFKA_EVENTS_TOPIC must be a Kafka topic name"),
        ("KAFKA_STATE_TOPIC", "accounts.events", "KAFKA_STATE_TOPIC must differ from KAFKA_EVENTS_TOPIC"),
        ("KAFKA_TOPIC_PARTITIONS", "0", "KAFKA_TOPIC_PARTITIONS must be at least 1"),
        ("KAFKA_EVENTS_RETENTION_MS", "0", "KAFKA_EVENTS_RETENTION_MS must be positive, or -1"),
        ("KAFKA_PUBLISH_TIMEOUT", "0", "KAFKA_PUBLISH_TIMEOUT must be positive"),
        ("RELAY_BATCH_SIZE", "0", "RELAY_BATCH_SIZE must be at least 1"),
        ("RELAY_BATCH_WINDOW", "-0.001", "RELAY_BATCH_WINDOW must not be negative"),
        ("RELAY_BATCH_WINDOW", "5", "RELAY_BATCH_WINDOW must be shorter than RELAY_POLL_INTERVAL"),
        ("RELAY_MAX_ATTEMPTS", "0", "RELAY_MAX_ATTEMPTS must be at least 1"),
        ("RELAY_METRICS_PORT", "70000", "RELAY_METRICS_PORT must be between 0"),
        ("OUTBOX_RETENTION_SECONDS", "-1", "OUTBOX_RETENTION_SECONDS must not be negative"),
    ],
)
def test_bad_event_settings_are_named(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{message}"):
        load_settings({"DATABASE_URL": URL, variable: value})
