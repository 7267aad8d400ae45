"""The rules every setting obeys; the first broken one names its variable (the field name upper-cased)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from service.crypto import KeyRingError, parse_key_ring

if TYPE_CHECKING:
    from service.settings.model import Settings

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR"}
_WEEK = 7 * 24 * 3600
Test = Callable[[Any], bool]


class SettingsError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


def require(ok: bool, variable: str, message: str) -> None:
    if not ok:
        raise SettingsError(f"{variable} {message}")


def _each(settings: Settings, test: Test, message: str, *fields: str) -> None:
    """One rule over several fields, in the order given."""
    for name in fields:
        require(test(getattr(settings, name)), name.upper(), message)


def _positive(value: float) -> bool:
    return value > 0


def _not_negative(value: float) -> bool:
    return value >= 0


def _at_least_one(value: float) -> bool:
    return value >= 1


def _not_blank(text: str) -> bool:
    return bool(text.strip())


def _is_topic(name: str) -> bool:
    return _TOPIC_NAME.fullmatch(name) is not None


def _port_or_off(value: int) -> bool:
    return value in range(0, 65536)


def check(s: Settings) -> None:
    """Every rule, in the order the variables are documented."""
    _check_events(s)
    _check_webhooks(s)
    require(s.port in range(1, 65536), "PORT", "must be between 1 and 65535")
    require(s.web_concurrency >= 0, "WEB_CONCURRENCY", "must not be negative (0: one per CPU)")
    require(s.db_pool_min_size >= 0, "DB_POOL_MIN_SIZE", "must not be negative")
    pool_ok = s.db_pool_max_size >= max(1, s.db_pool_min_size)
    require(pool_ok, "DB_POOL_MAX_SIZE", "must be at least 1 and at least DB_POOL_MIN_SIZE")
    timeouts = ("db_acquire_timeout", "db_statement_timeout_ms", "db_idle_in_transaction_timeout_ms")
    _each(s, _positive, "must be positive", *timeouts)
    postgres = s.database_url.startswith(("postgres://", "postgresql://"))
    require(postgres, "DATABASE_URL", "must be a postgresql:// URL")
    require(s.log_level.upper() in _LEVELS, "LOG_LEVEL", "must be one of DEBUG, INFO, WARNING, ERROR")
    require(s.log_format in {"json", "text"}, "LOG_FORMAT", "must be json or text")
    require(s.access_log in {"all", "sampled", "off"}, "ACCESS_LOG", "must be all, sampled or off")
    require(0.0 <= s.access_log_sample_rate <= 1.0, "ACCESS_LOG_SAMPLE_RATE", "must be between 0 and 1")
    require(s.access_log_slow_seconds > 0, "ACCESS_LOG_SLOW_SECONDS", "must be positive")
    _each(s, _not_negative, "must not be negative", "shutdown_drain_seconds")
    _each(s, _positive, "must be positive", "shutdown_timeout")
    _check_identity(s)
    _check_accounts(s)
    _check_edge(s)
    _each(s, _positive, "must be positive", "cors_origins_refresh_seconds")


def _check_edge(s: Settings) -> None:
    for entry in filter(None, (part.strip() for part in s.forwarded_allow_ips.split(","))):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"FORWARDED_ALLOW_IPS names {entry!r}, not an IP address or network (CIDR)"
            ) from None
    require(s.http_max_header_bytes >= 1024, "HTTP_MAX_HEADER_BYTES", "must be at least 1024")
    _each(s, _positive, "must be positive", "http_header_timeout")
    _each(s, _at_least_one, "must be at least 1 second", "http_keep_alive_timeout")
    require(s.pagination_max_offset >= 100, "PAGINATION_MAX_OFFSET", "must be at least 100")


def _check_identity(s: Settings) -> None:
    short = bool(s.jwt_secret) and len(s.jwt_secret.encode()) < 32
    require(not short, "JWT_SECRET", "must be at least 32 bytes long")
    both = bool(s.jwt_secret and (s.jwt_private_key or s.jwt_public_key))
    require(not both, "JWT_SECRET", "must not be set together with JWT_PRIVATE_KEY / JWT_PUBLIC_KEY")
    half = bool(s.jwt_public_key) and not s.jwt_private_key
    require(not half, "JWT_PRIVATE_KEY", "is required when JWT_PUBLIC_KEY is set")
    ttls = ("jwt_ttl", "refresh_token_ttl", "customer_token_ttl", "worker_token_ttl")
    _each(s, _at_least_one, "must be at least 1 second", *ttls)
    capped = s.worker_token_max_ttl >= s.worker_token_ttl
    require(capped, "WORKER_TOKEN_MAX_TTL", "must be at least WORKER_TOKEN_TTL")
    refresh_ok = 0 < s.revocation_refresh_seconds <= 60
    require(refresh_ok, "REVOCATION_REFRESH_SECONDS", "must be more than 0 and at most 60")
    _each(s, _not_blank, "must not be blank", "jwt_issuer", "jwt_audience")
    _each(s, _at_least_one, "must be at least 1", "argon2_time_cost", "argon2_parallelism")
    memory_ok = s.argon2_memory_cost >= 8 * s.argon2_parallelism
    require(memory_ok, "ARGON2_MEMORY_COST", "must be at least 8 KiB per lane (8 x ARGON2_PARALLELISM)")
    _each(s, _at_least_one, "must be at least 1", "login_max_failures", "login_max_failures_per_address")
    _each(s, _at_least_one, "must be at least 1 second", "login_failure_window")


def _check_accounts(s: Settings) -> None:
    if s.credentials_keys.strip():
        try:
            parse_key_ring(s.credentials_keys)
        except KeyRingError as exc:
            raise SettingsError(f"CREDENTIALS_KEYS {exc}") from None


def _check_events(s: Settings) -> None:
    _each(s, _is_topic, "must be a Kafka topic name", "kafka_events_topic", "kafka_state_topic")
    distinct = s.kafka_events_topic != s.kafka_state_topic
    require(distinct, "KAFKA_STATE_TOPIC", "must differ from KAFKA_EVENTS_TOPIC")
    _each(s, _at_least_one, "must be at least 1", "kafka_topic_partitions")
    replicas = "must not be negative (0 picks up to 3)"
    _each(s, _not_negative, replicas, "kafka_topic_replication_factor")
    retention_ok = s.kafka_events_retention_ms == -1 or s.kafka_events_retention_ms > 0
    require(retention_ok, "KAFKA_EVENTS_RETENTION_MS", "must be positive, or -1 to keep events forever")
    _each(s, _positive, "must be positive", "kafka_publish_timeout")
    _each(s, _at_least_one, "must be at least 1", "relay_batch_size")
    _each(s, _positive, "must be positive", "relay_poll_interval")
    _each(s, _not_negative, "must not be negative", "relay_batch_window")
    # Longer would make NOTIFY pointless; in practice it is a value given in ms instead of seconds.
    window_ok = s.relay_batch_window < s.relay_poll_interval
    require(window_ok, "RELAY_BATCH_WINDOW", "must be shorter than RELAY_POLL_INTERVAL")
    require(bool(s.relay_transactional_id.strip()), "RELAY_TRANSACTIONAL_ID", "must not be empty")
    _each(s, _positive, "must be positive", "relay_takeover_after")
    _each(s, _not_negative, "must not be negative", "relay_debug_pause_after_read")
    _each(s, _at_least_one, "must be at least 1", "relay_max_attempts")
    _each(s, _port_or_off, "must be between 0 (off) and 65535", "relay_metrics_port")
    heartbeat = s.worker_heartbeat_interval_ms
    group_ok = heartbeat >= 10 and s.worker_session_timeout_ms >= 3 * heartbeat
    require(
        group_ok,
        "WORKER_SESSION_TIMEOUT_MS",
        "must be at least 3 x WORKER_HEARTBEAT_INTERVAL_MS (which must be at least 10)",
    )
    _each(s, _port_or_off, "must be between 0 (off) and 65535", "worker_metrics_port")
    _each(s, _not_negative, "must not be negative", "outbox_retention_seconds")


def _check_webhooks(s: Settings) -> None:
    try:
        schedule = s.webhook_retry_schedule
    except ValueError:
        schedule = ()
    schedule_ok = bool(schedule) and all(0 <= delay <= _WEEK for delay in schedule)
    schedule_rule = "must be comma-separated seconds (0 to 604800), at least one"
    require(schedule_ok, "WEBHOOKS_RETRY_SCHEDULE", schedule_rule)
    timings = ("webhooks_connect_timeout", "webhooks_read_timeout", "webhooks_poll_interval")
    _each(s, _positive, "must be positive", *timings, "webhooks_disable_after_seconds")
    _each(s, _at_least_one, "must be at least 1", "webhooks_max_in_flight_per_endpoint")
    _each(s, _not_negative, "must not be negative", "webhooks_secret_overlap_seconds")
    _each(s, _positive, "must be positive", "webhooks_retention_seconds")
    _each(s, _port_or_off, "must be between 0 (off) and 65535", "webhooks_metrics_port")
