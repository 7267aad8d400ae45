"""Every variable the service reads, typed, with its default."""

from __future__ import annotations

import msgspec

from service.settings.checks import check


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
        check(self)

    @property
    def webhook_retry_schedule(self) -> tuple[float, ...]:
        """The delay before each webhook attempt, in seconds."""
        return tuple(float(part) for part in self.webhooks_retry_schedule.split(","))

    @property
    def kafka_enabled(self) -> bool:
        return bool(self.kafka_bootstrap_servers.strip())

