"""The webhooks' one query module: every statement of `queries.sql`, called with keyword arguments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db.sql import Row as Row  # the dispatcher reads it from here
from service.db.sql import load_queries

_SQL = load_queries("service.webhooks", "queries.sql")

CHANNEL = "accounts_webhooks"
_DELETE_SLICE = 5000


async def count_endpoints(connection: asyncpg.Connection, *, organization: uuid.UUID) -> int:
    return int(await connection.fetchval(_SQL["count_endpoints"], organization))


async def page_endpoints(
    connection: asyncpg.Connection, *, organization: uuid.UUID, limit: int, offset: int
) -> list[Row]:
    return list(await connection.fetch(_SQL["page_endpoints"], organization, limit, offset))


async def get_endpoint(
    connection: asyncpg.Connection, *, endpoint: uuid.UUID, organization: uuid.UUID, lock: bool = False
) -> Row | None:
    row: Row | None = await connection.fetchrow(
        _SQL["lock_endpoint" if lock else "get_endpoint"], endpoint, organization
    )
    return row


async def organization_clients(
    connection: asyncpg.Connection, *, organization: uuid.UUID, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    return {row["id"] for row in await connection.fetch(_SQL["organization_clients"], organization, ids)}


async def lock_organization(connection: asyncpg.Connection, *, organization: uuid.UUID) -> None:
    """Until the transaction ends, no other creation for this organization runs (the endpoint cap)."""
    await connection.execute(_SQL["lock_organization"], organization)


@dataclass(frozen=True, slots=True)
class EndpointValues:
    """An endpoint's writable columns, as `insert_endpoint` and `update_endpoint` store them."""

    url: str
    description: str | None
    events: Sequence[str]
    clients: Sequence[uuid.UUID] | None
    enabled: bool
    # The disabled reason an owner's `enabled: false` records.
    disabled_reason: str

    def row(self) -> tuple[Any, ...]:
        """url, description, events, clients, enabled: the statements' parameters after the ids."""
        return (self.url, self.description, self.events, self.clients, self.enabled)


async def insert_endpoint(
    connection: asyncpg.Connection,
    *,
    endpoint: uuid.UUID,
    organization: uuid.UUID,
    values: EndpointValues,
    sealed_secret: bytes,
    key_id: str,
) -> Row:
    statement, secret = _SQL["insert_endpoint"], (sealed_secret, key_id, values.disabled_reason)
    row: Row = await connection.fetchrow(statement, endpoint, organization, *values.row(), *secret)
    return row


async def update_endpoint(
    connection: asyncpg.Connection, *, endpoint: uuid.UUID, organization: uuid.UUID, values: EndpointValues
) -> Row:
    statement, reason = _SQL["update_endpoint"], values.disabled_reason
    row: Row = await connection.fetchrow(statement, endpoint, organization, *values.row(), reason)
    return row


async def rotate_secret(
    connection: asyncpg.Connection,
    *,
    endpoint: uuid.UUID,
    organization: uuid.UUID,
    sealed_secret: bytes,
    key_id: str,
    overlap_seconds: float,
) -> Row | None:
    row: Row | None = await connection.fetchrow(
        _SQL["rotate_secret"], endpoint, organization, sealed_secret, key_id, overlap_seconds
    )
    return row


async def delete_endpoint(
    connection: asyncpg.Connection, *, endpoint: uuid.UUID, organization: uuid.UUID
) -> bool:
    return await connection.fetchval(_SQL["delete_endpoint"], endpoint, organization) is not None


async def endpoint_exists(
    connection: asyncpg.Connection, *, endpoint: uuid.UUID, organization: uuid.UUID
) -> bool:
    return bool(await connection.fetchval(_SQL["endpoint_exists"], endpoint, organization))


async def page_deliveries(
    connection: asyncpg.Connection,
    *,
    endpoint: uuid.UUID,
    organization: uuid.UUID,
    state: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Row]]:
    total = await connection.fetchval(_SQL["count_deliveries"], endpoint, organization, state)
    rows = await connection.fetch(_SQL["page_deliveries"], endpoint, organization, state, limit, offset)
    return int(total), list(rows)


async def get_delivery(
    connection: asyncpg.Connection, *, delivery: uuid.UUID, endpoint: uuid.UUID, organization: uuid.UUID
) -> Row | None:
    row: Row | None = await connection.fetchrow(_SQL["get_delivery"], delivery, endpoint, organization)
    return row


async def retry_delivery(
    connection: asyncpg.Connection, *, delivery: uuid.UUID, endpoint: uuid.UUID, organization: uuid.UUID
) -> bool:
    found = await connection.fetchval(_SQL["retry_delivery"], delivery, endpoint, organization)
    if found is not None:
        await connection.execute(_SQL["notify"], CHANNEL)
    return found is not None


async def replay(
    connection: asyncpg.Connection, *, endpoint: uuid.UUID, organization: uuid.UUID, since: datetime
) -> int:
    status: str = await connection.execute(_SQL["replay"], endpoint, organization, since)
    added = int(status.rsplit(" ", 1)[-1])
    if added:
        await connection.execute(_SQL["notify"], CHANNEL)
    return added


class DispatcherStore:
    """The dispatcher's statements, on its own connection (which also holds its lock)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def try_lock(self, key: int) -> bool:
        return bool(await self.connection.fetchval(_SQL["try_lock"], key))

    async def due(
        self, in_flight: Sequence[uuid.UUID], saturated: Sequence[uuid.UUID], per_endpoint: int, limit: int
    ) -> list[Row]:
        return list(
            await self.connection.fetch(_SQL["due"], list(in_flight), list(saturated), per_endpoint, limit)
        )

    async def record(
        self, outcomes: Sequence[Outcome], disable_after: float, reasons: tuple[str, str]
    ) -> list[Row]:
        """Store the attempts, then their endpoints' health; returns the endpoints disabled now."""
        columns = list(
            zip(
                *[(o.delivery_id, o.state, o.delay, o.status, o.error, o.latency_ms, o.at) for o in outcomes],
                strict=True,
            )
        )
        per_endpoint: dict[uuid.UUID, tuple[bool, bool]] = {}
        for o in outcomes:
            ok, gone = per_endpoint.get(o.endpoint_id, (False, False))
            per_endpoint[o.endpoint_id] = (ok or o.ok, gone or o.gone)
        disabled = await self.connection.fetch(
            _SQL["record_outcomes"],
            *[list(column) for column in columns],
            list(per_endpoint),
            [ok for ok, _ in per_endpoint.values()],
            [gone for _, gone in per_endpoint.values()],
            disable_after,
            *reasons,
        )
        return [row for row in disabled if row["reason"] is not None]

    async def backlog(self) -> Row:
        row: Row = await self.connection.fetchrow(_SQL["backlog"])
        return row

    async def analyze_if_never(self) -> None:
        """Give the delivery tables statistics if they have none (a first backlog would be misplanned)."""
        if await self.connection.fetchval(_SQL["never_analyzed"]):
            await self.connection.execute(_SQL["analyze"])

    async def delete_expired(self, retention_seconds: float) -> int:
        deleted = 0
        while True:
            status: str = await self.connection.execute(
                _SQL["delete_expired"], retention_seconds, _DELETE_SLICE
            )
            count = int(status.rsplit(" ", 1)[-1])
            deleted += count
            if count < _DELETE_SLICE:
                return deleted


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to, as the dispatcher records it."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    state: str
    delay: float | None
    status: int | None
    error: str | None
    latency_ms: float | None
    at: datetime
    ok: bool
    gone: bool
