"""Relay statistics as plain values and as Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from service.events.metrics import RATE_WINDOW_SECONDS, RelayCollector, RelayStats


def test_published_rate_counts_only_the_last_window() -> None:
    stats = RelayStats()
    stats.record_published(120, now=100.0)
    stats.record_published(60, now=100.0 + RATE_WINDOW_SECONDS - 1)
    assert stats.published_per_second(now=100.0 + RATE_WINDOW_SECONDS - 1) == 180 / RATE_WINDOW_SECONDS
    assert stats.published_per_second(now=100.0 + RATE_WINDOW_SECONDS + 1) == 60 / RATE_WINDOW_SECONDS
    assert stats.published_total == 180


def test_prometheus_shows_the_current_values_at_each_scrape() -> None:
    stats = RelayStats()
    registry = CollectorRegistry()
    registry.register(RelayCollector(stats))
    stats.active, stats.backlog, stats.parked, stats.oldest_pending_age = True, 42, 1, 12.5
    stats.record_published(7)
    text = generate_latest(registry).decode()
    for line in (
        "accounts_relay_active 1.0",
        "accounts_relay_backlog_events 42.0",
        "accounts_relay_parked_events 1.0",
        "accounts_relay_oldest_pending_age_seconds 12.5",
        "accounts_relay_published_total 7.0",
    ):
        assert line in text
    stats.backlog = 0
    assert "accounts_relay_backlog_events 0.0" in generate_latest(registry).decode()
    assert stats.backlog == 0


def test_batches_count_the_rounds_that_published() -> None:
    stats = RelayStats()
    registry = CollectorRegistry()
    registry.register(RelayCollector(stats))
    for count in (3, 0, 2):
        stats.record_published(count)
    assert (stats.published_total, stats.batches_total) == (5, 2)
    assert "accounts_relay_batches_total 2.0" in generate_latest(registry).decode()
    assert stats.batches_total == 2
