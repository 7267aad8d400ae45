"""Configuration read from the environment, once, into one typed value."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping

import msgspec

from service.crypto import KeyRingError, parse_key_ring


class SettingsError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    """Every variable the service reads; the field name upper-cased is the variable name."""

    database_url: str
    kafka_bootstrap_servers: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # 0: one worker per CPU this process may use (see service.web.edge.worker_count).
    web_concurrency: int = 0
    log_level: str = "INFO"
    # The HTTP edge: proxies whose X-Forwarded-For is believed (none by default), request head limits.
    forwarded_allow_ips: str = ""
    http_max_header_bytes: int = 16 * 1024
    http_header_timeout: float = 10.0
    http_keep_alive_timeout: int = 5
    # Page-number pagination reads at most this far into a collection; cursors page further.
    pagination_max_offset: int = 10_000
    db_pool_min_size: int = 1
    db_pool_max_size: int = 10
    db_acquire_timeout: float = 5.0
    db_statement_timeout_ms: int = 5000
    db_idle_in_transaction_timeout_ms: int = 10000
    kafka_probe_timeout: float = 2.0
    # Events: the outbox relay and the Kafka topics it publishes to.
    kafka_events_topic: str = "accounts.events"
    kafka_state_topic: str = "accounts.state"
    kafka_topic_partitions: int = 6
    # 0: as many replicas as the cluster allows, up to 3.
    kafka_topic_replication_factor: int = 0
    kafka_events_retention_ms: int = 7 * 24 * 3600 * 1000
    kafka_publish_timeout: float = 10.0
    relay_batch_size: int = 500
    relay_poll_interval: float = 1.0
    # Seconds the relay lets pass after a round that was not a full batch before it reads again.
    relay_batch_window: float = 0.002
    relay_max_attempts: int = 5
    relay_metrics_port: int = 0
    # The Kafka transactional id shared by every relay of one database: a new term fences the old one.
    relay_transactional_id: str = "accounts-relay"
    # Seconds without a sign of life from the active relay after which a standby takes over.
    relay_takeover_after: float = 3.0
    # Fault injection only: seconds the relay waits between reading a batch and sending it.
    relay_debug_pause_after_read: float = 0.0
    # Fleet members (worker-example --group): how fast the group notices a lost member.
    worker_session_timeout_ms: int = 10_000
    worker_heartbeat_interval_ms: int = 3_000
    worker_metrics_port: int = 0
    outbox_retention_seconds: float = 24 * 3600.0
    # Operations: log shape, shutdown timing, tracing.
    log_format: str = "json"
    # Access lines for answers below 400 that took less than ACCESS_LOG_SLOW_SECONDS: all, sampled, off.
    access_log: str = "all"
    access_log_sample_rate: float = 0.01
    access_log_slow_seconds: float = 1.0
    shutdown_drain_seconds: float = 0.0
    shutdown_timeout: int = 20
    tracing_enabled: bool = False
    # Access tokens: an asymmetric key pair (PEM text or a path to a PEM file), or an HMAC secret.
    jwt_private_key: str = ""
    jwt_public_key: str = ""
    jwt_secret: str = ""
    jwt_ttl: int = 3600
    jwt_issuer: str = "accounts-service"
    jwt_audience: str = "accounts-api"
    refresh_token_ttl: int = 30 * 24 * 3600
    customer_token_ttl: int = 3600
    worker_token_ttl: int = 24 * 3600
    worker_token_max_ttl: int = 7 * 24 * 3600
    # Fallback re-read of the revocation list when a NOTIFY was missed; bounds how long a revocation takes.
    revocation_refresh_seconds: float = 30.0
    # Argon2id cost of password hashes; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    argon2_parallelism: int = 4
    login_max_failures: int = 5
    login_failure_window: int = 900
    login_max_failures_per_address: int = 50
    # Account credentials: `kid:base64key[,kid:base64key…]`, 32-byte AES keys; the first one seals.
    credentials_keys: str = ""
    # Integrations that accept new accounts (comma-separated slugs); the others are listed as unavailable.
    # The catalog checks the slugs when the API starts (settings know nothing of the domain).
    integrations_available: str = "whatsapp"
    # Seconds between reloads of the organizations' allowed browser origins (CORS) in every process.
    cors_origins_refresh_seconds: float = 5.0
    # Webhooks: which URLs endpoints may name, and how the dispatcher delivers and retries.
    webhooks_allow_private_urls: bool = False
    # Seconds before each attempt, the first one included (Svix's schedule); its length is the attempts.
    webhooks_retry_schedule: str = "0,5,300,1800,7200,18000,36000,36000"
    webhooks_connect_timeout: float = 5.0
    webhooks_read_timeout: float = 15.0
    webhooks_max_in_flight_per_endpoint: int = 10
    webhooks_secret_overlap_seconds: int = 24 * 3600
    webhooks_disable_after_seconds: float = 5 * 24 * 3600.0
    webhooks_poll_interval: float = 1.0
    webhooks_retention_seconds: float = 7 * 24 * 3600.0
    webhooks_metrics_port: int = 0

    def __post_init__(self) -> None:
        self._check_events()
        self._check_webhooks()
        _require(self.port in range(1, 65536), "PORT", "must be between 1 and 65535")
        _require(self.web_concurrency >= 0, "WEB_CONCURRENCY", "must not be negative (0: one per CPU)")
        _require(self.db_pool_min_size >= 0, "DB_POOL_MIN_SIZE", "must not be negative")
        _require(
            self.db_pool_max_size >= max(1, self.db_pool_min_size),
            "DB_POOL_MAX_SIZE",
            "must be at least 1 and at least DB_POOL_MIN_SIZE",
        )
        _require(self.db_acquire_timeout > 0, "DB_ACQUIRE_TIMEOUT", "must be positive")
        _require(self.db_statement_timeout_ms > 0, "DB_STATEMENT_TIMEOUT_MS", "must be positive")
        _require(
            self.db_idle_in_transaction_timeout_ms > 0,
            "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
            "must be positive",
        )
        _require(
            self.database_url.startswith(("postgres://", "postgresql://")),
            "DATABASE_URL",
            "must be a postgresql:// URL",
        )
        _require(
            self.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"},
            "LOG_LEVEL",
            "must be one of DEBUG, INFO, WARNING, ERROR",
        )
        _require(self.log_format in {"json", "text"}, "LOG_FORMAT", "must be json or text")
        _require(self.access_log in {"all", "sampled", "off"}, "ACCESS_LOG", "must be all, sampled or off")
        _require(
            0.0 <= self.access_log_sample_rate <= 1.0, "ACCESS_LOG_SAMPLE_RATE", "must be between 0 and 1"
        )
        _require(self.access_log_slow_seconds > 0, "ACCESS_LOG_SLOW_SECONDS", "must be positive")
        _require(self.shutdown_drain_seconds >= 0, "SHUTDOWN_DRAIN_SECONDS", "must not be negative")
        _require(self.shutdown_timeout > 0, "SHUTDOWN_TIMEOUT", "must be positive")
        self._check_identity()
        self._check_accounts()
        self._check_edge()
        _require(self.cors_origins_refresh_seconds > 0, "CORS_ORIGINS_REFRESH_SECONDS", "must be positive")

    def _check_edge(self) -> None:
        for entry in filter(None, (part.strip() for part in self.forwarded_allow_ips.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(
                    f"FORWARDED_ALLOW_IPS names {entry!r}, not an IP address or network (CIDR)"
                ) from None
        _require(self.http_max_header_bytes >= 1024, "HTTP_MAX_HEADER_BYTES", "must be at least 1024")
        _require(self.http_header_timeout > 0, "HTTP_HEADER_TIMEOUT", "must be positive")
        _require(self.http_keep_alive_timeout >= 1, "HTTP_KEEP_ALIVE_TIMEOUT", "must be at least 1 second")
        _require(self.pagination_max_offset >= 100, "PAGINATION_MAX_OFFSET", "must be at least 100")

    def _check_identity(self) -> None:
        _require(
            not self.jwt_secret or len(self.jwt_secret.encode()) >= 32,
            "JWT_SECRET",
            "must be at least 32 bytes long",
        )
        _require(
            not (self.jwt_secret and (self.jwt_private_key or self.jwt_public_key)),
            "JWT_SECRET",
            "must not be set together with JWT_PRIVATE_KEY / JWT_PUBLIC_KEY",
        )
        _require(
            not self.jwt_public_key or bool(self.jwt_private_key),
            "JWT_PRIVATE_KEY",
            "is required when JWT_PUBLIC_KEY is set",
        )
        for variable, ttl in [
            ("JWT_TTL", self.jwt_ttl),
            ("REFRESH_TOKEN_TTL", self.refresh_token_ttl),
            ("CUSTOMER_TOKEN_TTL", self.customer_token_ttl),
            ("WORKER_TOKEN_TTL", self.worker_token_ttl),
        ]:
            _require(ttl >= 1, variable, "must be at least 1 second")
        _require(
            self.worker_token_max_ttl >= self.worker_token_ttl,
            "WORKER_TOKEN_MAX_TTL",
            "must be at least WORKER_TOKEN_TTL",
        )
        _require(
            0 < self.revocation_refresh_seconds <= 60,
            "REVOCATION_REFRESH_SECONDS",
            "must be more than 0 and at most 60",
        )
        _require(bool(self.jwt_issuer.strip()), "JWT_ISSUER", "must not be blank")
        _require(bool(self.jwt_audience.strip()), "JWT_AUDIENCE", "must not be blank")
        _require(self.argon2_time_cost >= 1, "ARGON2_TIME_COST", "must be at least 1")
        _require(self.argon2_parallelism >= 1, "ARGON2_PARALLELISM", "must be at least 1")
        _require(
            self.argon2_memory_cost >= 8 * self.argon2_parallelism,
            "ARGON2_MEMORY_COST",
            "must be at least 8 KiB per lane (8 x ARGON2_PARALLELISM)",
        )
        _require(self.login_max_failures >= 1, "LOGIN_MAX_FAILURES", "must be at least 1")
        _require(
            self.login_max_failures_per_address >= 1,
            "LOGIN_MAX_FAILURES_PER_ADDRESS",
            "must be at least 1",
        )
        _require(self.login_failure_window >= 1, "LOGIN_FAILURE_WINDOW", "must be at least 1 second")

    def _check_accounts(self) -> None:
        if self.credentials_keys.strip():
            try:
                parse_key_ring(self.credentials_keys)
            except KeyRingError as exc:
                raise SettingsError(f"CREDENTIALS_KEYS {exc}") from None

    def _check_events(self) -> None:
        for variable, topic in [
            ("KAFKA_EVENTS_TOPIC", self.kafka_events_topic),
            ("KAFKA_STATE_TOPIC", self.kafka_state_topic),
        ]:
            _require(_TOPIC_NAME.fullmatch(topic) is not None, variable, "must be a Kafka topic name")
        _require(
            self.kafka_events_topic != self.kafka_state_topic,
            "KAFKA_STATE_TOPIC",
            "must differ from KAFKA_EVENTS_TOPIC",
        )
        _require(self.kafka_topic_partitions >= 1, "KAFKA_TOPIC_PARTITIONS", "must be at least 1")
        _require(
            self.kafka_topic_replication_factor >= 0,
            "KAFKA_TOPIC_REPLICATION_FACTOR",
            "must not be negative (0 picks up to 3)",
        )
        _require(
            self.kafka_events_retention_ms == -1 or self.kafka_events_retention_ms > 0,
            "KAFKA_EVENTS_RETENTION_MS",
            "must be positive, or -1 to keep events forever",
        )
        _require(self.kafka_publish_timeout > 0, "KAFKA_PUBLISH_TIMEOUT", "must be positive")
        _require(self.relay_batch_size >= 1, "RELAY_BATCH_SIZE", "must be at least 1")
        _require(self.relay_poll_interval > 0, "RELAY_POLL_INTERVAL", "must be positive")
        _require(self.relay_batch_window >= 0, "RELAY_BATCH_WINDOW", "must not be negative")
        # Longer would make NOTIFY pointless; in practice it is a value given in ms instead of seconds.
        _require(
            self.relay_batch_window < self.relay_poll_interval,
            "RELAY_BATCH_WINDOW",
            "must be shorter than RELAY_POLL_INTERVAL",
        )
        _require(bool(self.relay_transactional_id.strip()), "RELAY_TRANSACTIONAL_ID", "must not be empty")
        _require(self.relay_takeover_after > 0, "RELAY_TAKEOVER_AFTER", "must be positive")
        _require(
            self.relay_debug_pause_after_read >= 0, "RELAY_DEBUG_PAUSE_AFTER_READ", "must not be negative"
        )
        _require(self.relay_max_attempts >= 1, "RELAY_MAX_ATTEMPTS", "must be at least 1")
        _require(
            self.relay_metrics_port in range(0, 65536),
            "RELAY_METRICS_PORT",
            "must be between 0 (off) and 65535",
        )
        _require(
            self.worker_heartbeat_interval_ms >= 10
            and self.worker_session_timeout_ms >= 3 * self.worker_heartbeat_interval_ms,
            "WORKER_SESSION_TIMEOUT_MS",
            "must be at least 3 x WORKER_HEARTBEAT_INTERVAL_MS (which must be at least 10)",
        )
        _require(
            self.worker_metrics_port in range(0, 65536),
            "WORKER_METRICS_PORT",
            "must be between 0 (off) and 65535",
        )
        _require(self.outbox_retention_seconds >= 0, "OUTBOX_RETENTION_SECONDS", "must not be negative")

    def _check_webhooks(self) -> None:
        try:
            schedule = self.webhook_retry_schedule
        except ValueError:
            schedule = ()
        _require(
            bool(schedule) and all(0 <= delay <= 7 * 24 * 3600 for delay in schedule),
            "WEBHOOKS_RETRY_SCHEDULE",
            "must be comma-separated seconds (0 to 604800), at least one",
        )
        for variable, value in [
            ("WEBHOOKS_CONNECT_TIMEOUT", self.webhooks_connect_timeout),
            ("WEBHOOKS_READ_TIMEOUT", self.webhooks_read_timeout),
            ("WEBHOOKS_POLL_INTERVAL", self.webhooks_poll_interval),
            ("WEBHOOKS_DISABLE_AFTER_SECONDS", self.webhooks_disable_after_seconds),
        ]:
            _require(value > 0, variable, "must be positive")
        _require(
            self.webhooks_max_in_flight_per_endpoint >= 1,
            "WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT",
            "must be at least 1",
        )
        _require(
            self.webhooks_secret_overlap_seconds >= 0,
            "WEBHOOKS_SECRET_OVERLAP_SECONDS",
            "must not be negative",
        )
        _require(self.webhooks_retention_seconds > 0, "WEBHOOKS_RETENTION_SECONDS", "must be positive")
        _require(
            self.webhooks_metrics_port in range(0, 65536),
            "WEBHOOKS_METRICS_PORT",
            "must be between 0 (off) and 65535",
        )

    @property
    def webhook_retry_schedule(self) -> tuple[float, ...]:
        """The delay before each webhook attempt, in seconds."""
        return tuple(float(part) for part in self.webhooks_retry_schedule.split(","))

    @property
    def kafka_enabled(self) -> bool:
        return bool(self.kafka_bootstrap_servers.strip())


def _require(ok: bool, variable: str, message: str) -> None:
    if not ok:
        raise SettingsError(f"{variable} {message}")


_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_FIELD_PATH = re.compile(r"`\$\.(\w+)`")
_MISSING_FIELD = re.compile(r"missing required field `(\w+)`")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment; raise SettingsError naming the bad variable."""
    env = os.environ if environ is None else environ
    names = {field.upper() for field in Settings.__struct_fields__}
    values = {name: env[name] for name in names if name in env and env[name] != ""}
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if missing := _MISSING_FIELD.search(text):
        return f"{missing.group(1)} is required but not set"
    if field := _FIELD_PATH.search(text):
        variable = field.group(1)
        reason = text.split(" - at ", 1)[0]
        return f"{variable} is invalid: {reason}"
    return text
