"""Liveness and readiness endpoints, unauthenticated and cheap."""

from __future__ import annotations

import asyncio

from litestar import Response, get

from service.db.pool import Database
from service.events.probe import KafkaProbe


@get("/healthz", include_in_schema=False, cache_control=None)
async def healthz() -> dict[str, str]:
    """The process is alive; depends on nothing."""
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(db: Database, kafka_probe: KafkaProbe | None) -> Response[dict[str, str]]:
    """Ready when the database answers and Kafka, if configured, is reachable."""
    checks = {
        "database": "ok" if await _database_answers(db) else "unreachable",
        "kafka": "not configured" if kafka_probe is None else (
            "ok" if await kafka_probe.reachable() else "unreachable"
        ),
    }
    ready = "unreachable" not in checks.values()
    return Response({"status": "ok" if ready else "unavailable", **checks}, status_code=200 if ready else 503)


async def _database_answers(db: Database) -> bool:
    try:
        async with asyncio.timeout(2.0), db.connection() as connection:
            await connection.fetchval("SELECT 1")
        return True
    except Exception:
        return False
