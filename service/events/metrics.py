"""Relay metrics: plain values on a stats object, and the same as Prometheus metrics when available."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Window over which `published_per_second` is averaged.
RATE_WINDOW_SECONDS = 60.0


@dataclass
class RelayStats:
    """What one relay process knows about itself and the outbox; updated by the relay as it runs."""

    active: bool = False
    kafka_available: bool = False
    backlog: int = 0
    oldest_pending_age: float = 0.0
    parked: int = 0
    published_total: int = 0
    # Rounds that published at least one event: published_total / batches_total is the mean batch size.
    batches_total: int = 0
    failed_attempts_total: int = 0
    parked_total: int = 0
    kafka_errors_total: int = 0
    # Attempts to reach Kafka again during outages (each outage counts once in kafka_errors_total).
    kafka_retries_total: int = 0
    # Times this relay's producer was fenced by another one with the same transactional id.
    fenced_total: int = 0
    _recent: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def record_published(self, count: int, now: float | None = None) -> None:
        """Count one round's published events."""
        moment = time.monotonic() if now is None else now
        self.published_total += count
        if count:
            self.batches_total += 1
        self._recent.append((moment, count))
        self._forget_before(moment - RATE_WINDOW_SECONDS)

    def published_per_second(self, now: float | None = None) -> float:
        """Events published per second over the last minute."""
        moment = time.monotonic() if now is None else now
        self._forget_before(moment - RATE_WINDOW_SECONDS)
        return sum(count for _, count in self._recent) / RATE_WINDOW_SECONDS

    def _forget_before(self, cutoff: float) -> None:
        while self._recent and self._recent[0][0] < cutoff:
            self._recent.popleft()



class RelayCollector:
    """A Prometheus collector reading a RelayStats at scrape time (no second copy of the numbers)."""

    def __init__(self, stats: RelayStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self._stats
        gauges = [
            ("accounts_relay_active", "1 while this process is the active relay", stats.active),
            ("accounts_relay_kafka_available", "1 while Kafka answers the relay", stats.kafka_available),
            ("accounts_relay_backlog_events", "Outbox events waiting to be published", stats.backlog),
            (
                "accounts_relay_oldest_pending_age_seconds",
                "Age of the oldest event waiting to be published",
                stats.oldest_pending_age,
            ),
            (
                "accounts_relay_parked_events",
                "Events parked after repeated failures (alert above 0)",
                stats.parked,
            ),
            (
                "accounts_relay_published_per_second",
                "Events published per second over the last minute",
                stats.published_per_second(),
            ),
        ]
        for name, help_text, value in gauges:
            yield GaugeMetricFamily(name, help_text, value=float(value))
        counters = [
            ("accounts_relay_published", "Events published to Kafka", stats.published_total),
            ("accounts_relay_batches", "Rounds that published events to Kafka", stats.batches_total),
            ("accounts_relay_failed_attempts", "Failed publish attempts", stats.failed_attempts_total),
            ("accounts_relay_parked", "Events this process parked", stats.parked_total),
            ("accounts_relay_kafka_errors", "Kafka outages or producer failures", stats.kafka_errors_total),
            ("accounts_relay_kafka_retries", "Retries during Kafka outages", stats.kafka_retries_total),
            ("accounts_relay_fenced", "Times this relay's producer was fenced", stats.fenced_total),
        ]
        for name, help_text, value in counters:
            yield CounterMetricFamily(name, help_text, value=float(value))


def serve(stats: RelayStats, host: str, port: int) -> bool:
    """Serve the relay's stats on http://host:port/metrics (see `serve_collector`)."""
    return serve_collector(lambda: RelayCollector(stats), host, port)


def serve_collector(collector: Callable[[], Any], host: str, port: int) -> bool:
    """Serve a collector on http://host:port/metrics from a background thread, if Prometheus is installed."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        return False
    registry = CollectorRegistry()
    registry.register(collector())
    start_http_server(port, addr=host, registry=registry)
    return True
