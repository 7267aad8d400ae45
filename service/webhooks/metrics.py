"""Dispatcher metrics (Prometheus); labels are bounded: an outcome kind or a disable reason, never an id."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "accounts_webhook_deliveries",
    "Webhook delivery attempts by outcome (success, http_error, timeout, network_error, refused).",
    ["outcome"],
)
DURATION = Histogram(
    "accounts_webhook_delivery_duration_seconds",
    "Time from sending a webhook request to its answer (or failure).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PENDING = Gauge(
    "accounts_webhook_pending_deliveries", "Deliveries waiting (first attempt or retry) to enabled endpoints."
)
OLDEST_PENDING = Gauge(
    "accounts_webhook_oldest_pending_age_seconds",
    "Age of the oldest delivery still waiting: the webhook lag.",
)
DISABLED = Counter(
    "accounts_webhook_endpoints_disabled",
    "Endpoints the dispatcher disabled, by reason (gone: answered 410; failing: failed for too long).",
    ["reason"],
)
ACTIVE = Gauge("accounts_webhook_dispatcher_active", "1 while this process is the active webhook dispatcher.")
COMMIT_TO_DELIVERED = Histogram(
    "accounts_webhook_commit_to_delivered_seconds",
    "Time from an event's commit to its successful first-try delivery.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
