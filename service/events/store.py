"""The relay's view of the outbox table: pending rows in order, and what happened to them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from service.db.sql import load_queries
from service.events.outbox import WAITING_LOCK

_SQL = load_queries("service.events", "relay.sql")
_decode_payload = msgspec.json.Decoder(dict[str, Any]).decode
_EVENT_COLUMNS = (
    "position", "event_id", "event_type", "account_id", "organization_id", "client_id", "account_version",
    "created_at",
)  # fmt: skip
# Rows deleted per statement by the retention clean-up.
_DELETE_SLICE = 5000


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One committed account change waiting to be published."""

    position: int
    event_id: uuid.UUID
    event_type: str
    account_id: uuid.UUID
    organization_id: uuid.UUID
    client_id: uuid.UUID
    account_version: int
    payload: dict[str, Any]
    created_at: datetime
    attempts: int = 0

    @classmethod
    def of_row(cls, row: Mapping[str, Any], attempts: int = 0) -> OutboxEvent:
        """The event in a row that holds the outbox's columns (the relay's, or a webhook delivery's)."""
        columns = {name: row[name] for name in _EVENT_COLUMNS}
        return cls(**columns, payload=_decode_payload(row["payload"]), attempts=attempts)


@dataclass(frozen=True, slots=True)
class Backlog:
    """How far behind the relay is."""

    pending: int
    oldest_pending_age: float
    parked: int


class OutboxStore:
    """Outbox queries on one connection (the relay's, which also holds its lock)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def pending(self, limit: int) -> list[OutboxEvent]:
        """The next rows in order, leaving out accounts held back by a parked row."""
        if await self._connection.fetchval(_SQL["any_parked"]):
            held = await self._connection.fetch(_SQL["parked_accounts"])
            rows = await self._connection.fetch(
                _SQL["pending_around_parked"],
                limit,
                [row["account_id"] for row in held],
                [row["position"] for row in held],
            )
        else:
            rows = await self._connection.fetch(_SQL["pending"], limit)
        return [
            OutboxEvent.of_row(row, row["attempts"])
            for row in rows
        ]

    async def begin_waiting(self) -> bool:
        """Take the waiting lock, from which on writers notify; False while writes are in flight."""
        granted: bool = await self._connection.fetchval(_SQL["begin_waiting"], WAITING_LOCK)
        return granted

    async def end_waiting(self) -> None:
        await self._connection.fetchval(_SQL["end_waiting"], WAITING_LOCK)

    async def mark_published(self, positions: Sequence[int], lock_key: int) -> int:
        """Mark rows published if this session holds `lock_key`; return how many were marked."""
        if not positions:
            return 0
        status = await self._connection.execute(_SQL["mark_published"], list(positions), lock_key)
        return int(status.split()[-1])

    async def record_failures(self, failures: Sequence[tuple[int, str]], max_attempts: int) -> list[int]:
        """Count a failed attempt for each row; return the positions that are now parked."""
        if not failures:
            return []
        rows = await self._connection.fetch(
            _SQL["record_failures"],
            [position for position, _ in failures],
            [error for _, error in failures],
            max_attempts,
        )
        return [row["position"] for row in rows if row["parked"]]

    async def delete_published(self, older_than: float) -> int:
        """Delete rows published more than `older_than` seconds ago; return how many."""
        deleted = 0
        while True:
            status = await self._connection.execute(_SQL["delete_published"], older_than, _DELETE_SLICE)
            count = int(status.split()[-1])
            deleted += count
            if count < _DELETE_SLICE:
                return deleted

    async def backlog(self) -> Backlog:
        row = await self._connection.fetchrow(_SQL["backlog"])
        assert row is not None
        return Backlog(row["pending"], row["oldest_pending_age"], row["parked"])

    async def retry_parked(self) -> int:
        """Put parked rows back in line (after the cause was fixed); return how many."""
        return int((await self._connection.execute(_SQL["retry_parked"])).split()[-1])

    async def discard_parked(self) -> list[str]:
        """Give up on parked rows so the accounts' later events flow; describe each one dropped."""
        rows = await self._connection.fetch(_SQL["discard_parked"])
        return [
            f"{r['event_type']} {r['event_id']} of account {r['account_id']} v{r['account_version']}: "
            f"{r['last_error']}"
            for r in rows
        ]
