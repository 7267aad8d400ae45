"""Liveness and readiness endpoints, unauthenticated and cheap."""

from __future__ import annotations

import asyncio
from typing import Literal

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from service.db.pool import Database
from service.events.probe import KafkaProbe
from service.observability.shutdown import Drain

Check = Literal["database", "kafka"]


@get("/healthz", include_in_schema=False, cache_control=None)
async def healthz() -> dict[str, str]:
    """The process is alive; depends on nothing."""
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(
    db: NamedDependency[Database],
    kafka_probe: NamedDependency[KafkaProbe | None],
    drain: NamedDependency[Drain],
    exclude: FromQuery[list[Check] | None] = None,
) -> Response[dict[str, str]]:
    """Ready when the database answers and Kafka, if configured, is reachable; never while stopping.

    `?exclude=kafka` (as kube-apiserver's `/readyz?exclude=`) leaves a check out: the REST API
    never needs Kafka, so the Kubernetes readiness probe excludes it and a broker outage does not
    take every API pod out of service.
    """
    if drain.active:
        return Response({"status": "unavailable", "server": "shutting down"}, status_code=503)
    skipped = set(exclude or ())
    checks: dict[str, str] = {}
    if "database" not in skipped:
        checks["database"] = "ok" if await _database_answers(db) else "unreachable"
    if "kafka" not in skipped:
        checks["kafka"] = "not configured" if kafka_probe is None else (
            "ok" if await kafka_probe.reachable() else "unreachable"
        )
    ready = "unreachable" not in checks.values()
    return Response({"status": "ok" if ready else "unavailable", **checks}, status_code=200 if ready else 503)


async def _database_answers(db: Database) -> bool:
    try:
        async with asyncio.timeout(2.0), db.connection() as connection:
            await connection.fetchval("SELECT 1")
        return True
    except Exception:
        return False
