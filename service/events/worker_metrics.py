"""Fleet member metrics: plain values on a stats object, exposed as Prometheus metrics when installed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from service.events.metrics import serve_collector

# Rebuild durations (seconds) are counted into these buckets; +Inf is implied.
REBUILD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RELEASE_REASONS = ("revoked", "removed", "paused", "disconnected", "filtered")


@dataclass
class WorkerStats:
    """What one fleet member knows about its share; updated by the assignment client."""

    owned_accounts: int = 0
    owned_partitions: int = 0
    rebalances_total: int = 0
    membership_lost_total: int = 0
    released_total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RELEASE_REASONS, 0))
    rebuild_count: int = 0
    rebuild_sum: float = 0.0
    rebuild_buckets: list[int] = field(default_factory=lambda: [0] * len(REBUILD_BUCKETS))

    def record_rebuild(self, seconds: float) -> None:
        self.rebuild_count += 1
        self.rebuild_sum += seconds
        for index, bound in enumerate(REBUILD_BUCKETS):
            if seconds <= bound:
                self.rebuild_buckets[index] += 1

    def record_release(self, reason: str) -> None:
        self.released_total[reason] = self.released_total.get(reason, 0) + 1


class WorkerCollector:
    """A Prometheus collector reading a WorkerStats at scrape time."""

    def __init__(self, stats: WorkerStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        stats = self._stats
        yield GaugeMetricFamily(
            "accounts_worker_owned_accounts", "Accounts this member owns (polls)", stats.owned_accounts
        )
        yield GaugeMetricFamily(
            "accounts_worker_owned_partitions",
            "Partitions of the state topic assigned to this member",
            stats.owned_partitions,
        )
        counts = zip(REBUILD_BUCKETS, stats.rebuild_buckets, strict=True)
        buckets = [(str(bound), float(n)) for bound, n in counts]
        yield HistogramMetricFamily(
            "accounts_worker_rebuild_duration_seconds",
            "Time from a partition assignment to the member's share being rebuilt",
            buckets=[*buckets, ("+Inf", float(stats.rebuild_count))],
            sum_value=stats.rebuild_sum,
        )
        yield CounterMetricFamily(
            "accounts_worker_rebalances", "Group rebalances this member took part in", stats.rebalances_total
        )
        yield CounterMetricFamily(
            "accounts_worker_membership_lost",
            "Times this member released everything for lack of confirmation from the group",
            stats.membership_lost_total,
        )
        released = CounterMetricFamily(
            "accounts_worker_released_accounts", "Accounts released, by reason", labels=["reason"]
        )
        for reason, count in stats.released_total.items():
            released.add_metric([reason], float(count))
        yield released


def serve(stats: WorkerStats, host: str, port: int) -> bool:
    """Serve a fleet member's stats on http://host:port/metrics (see `metrics.serve_collector`)."""
    return serve_collector(lambda: WorkerCollector(stats), host, port)
