"""Prometheus metrics of this process: HTTP traffic by route template, the pool, the outbox."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from service.db.pool import Database
from service.db.sql import load_queries

_SQL = load_queries("service.observability", "metrics.sql")
log = logging.getLogger(__name__)

# Anything else (a client can send any token as a method) is counted as OTHER: labels stay bounded.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
SCRAPE_TIMEOUT = 2.0

REQUESTS = Counter(
    "accounts_http_requests_total",
    "HTTP responses, by method, route template and status code.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "accounts_http_request_duration_seconds",
    "Time from request to the end of the response body, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge("accounts_http_requests_in_flight", "HTTP requests being served right now.")
POOL_CONNECTIONS = Gauge(
    "accounts_db_pool_connections", "Open database connections of this process, by state.", ["state"]
)
POOL_MAX = Gauge("accounts_db_pool_max_connections", "Most connections this process's pool may open.")
OUTBOX_PENDING = Gauge("accounts_outbox_pending_events", "Committed events not yet published to Kafka.")
OUTBOX_LAG = Gauge(
    "accounts_outbox_lag_seconds",
    "Age of the oldest unpublished event, 0 when none is waiting: how far Kafka is behind the database.",
)
OUTBOX_PARKED = Gauge("accounts_outbox_parked_events", "Events the relay gave up on; they need an operator.")
OUTBOX_PUBLISHED_LAST_MINUTE = Gauge(
    "accounts_outbox_published_last_minute", "Events marked published in the last 60 seconds, by any relay."
)

POLLABLE_ACCOUNTS = Gauge(
    "accounts_pollable_accounts",
    "Live accounts inbox workers should poll (not paused, not disconnected), by integration.",
    ["integration"],
)


# The labelled series by (method, route, status): bounded by METHODS, the app's routes and the status
# codes, and looked up once each instead of on every request.
_SERIES: dict[tuple[str, str | None, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Record one answered request under its route template, never its raw path."""
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        label = method if method in METHODS else "OTHER"
        template = route or UNMATCHED_ROUTE
        series = (REQUESTS.labels(label, template, str(status)), LATENCY.labels(label, template))
        if label != "OTHER":
            # Unknown methods are the client's to invent: their series are found again each time.
            _SERIES[key] = series
    series[0].inc()
    series[1].observe(seconds)


def _sample_pool(db: Database) -> None:
    size, idle = db.pool.get_size(), db.pool.get_idle_size()
    POOL_CONNECTIONS.labels("idle").set(idle)
    POOL_CONNECTIONS.labels("in_use").set(size - idle)
    POOL_MAX.set(db.pool.get_max_size())


async def _scraped(db: Database, query: str, what: str) -> list[Any] | None:
    """The rows of one metrics query within the scrape's time, or None (logged) when it fails."""
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT), db.connection() as connection:
            rows: list[Any] = await connection.fetch(_SQL[query])
    except Exception as exc:
        log.warning("metrics unavailable", extra={"metrics": what, "error": type(exc).__name__})
        return None
    return rows


async def _sample_outbox(db: Database) -> None:
    rows = await _scraped(db, "outbox_stats", "outbox")
    # Unknown is not zero: NaN makes a dashboard show a gap instead of a reassuring flat line.
    row = rows[0] if rows else None
    gauges = {
        OUTBOX_PENDING: "pending",
        OUTBOX_LAG: "oldest_pending_age",
        OUTBOX_PARKED: "parked",
        OUTBOX_PUBLISHED_LAST_MINUTE: "published_last_minute",
    }
    for gauge, column in gauges.items():
        gauge.set(float("nan") if row is None else row[column])


async def _sample_pollable(db: Database) -> None:
    rows = await _scraped(db, "pollable_accounts", "accounts")
    if rows is None:
        return
    POLLABLE_ACCOUNTS.clear()
    for row in rows:
        POLLABLE_ACCOUNTS.labels(row["integration"]).set(row["accounts"])


# Unauthenticated like the probes: scrapers hold no tokens; keep /metrics off public ingress routes.
@get("/metrics", include_in_schema=False, cache_control=None, opt={"exclude_from_auth": True})
async def scrape(request: Request[Any, Any, Any], db: NamedDependency[Database]) -> Response[bytes]:
    """Prometheus exposition (text or OpenMetrics, as asked); pool, outbox and accounts sampled at scrape."""
    _sample_pool(db)
    await _sample_outbox(db)
    await _sample_pollable(db)
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(REGISTRY), headers={"Content-Type": content_type})
