"""The accounts' one query module: every statement of `queries.sql`, called with keyword arguments."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from service.crypto import Sealed
from service.db.sql import load_queries
from service.events.outbox import CHANNEL

_SQL = load_queries("service.accounts", "queries.sql")
# Columns of insert_account's $1…$13, in order.
_INSERTED = (
    "id", "organization_id", "client_id", "integration", "provider", "type", "name", "headline", "avatar",
    "external_id", "status", "settings", "metadata",
)  # fmt: skip
# Columns of update_account's $3…$8, in order.
_UPDATED = ("name", "headline", "avatar", "external_id", "settings", "metadata")


@dataclass(frozen=True, slots=True)
class Filters:
    """What a collection is limited to: the caller's scope, then the query's filters (None: no filter)."""

    organization_id: uuid.UUID | None
    client_id: uuid.UUID | None
    clients: Sequence[uuid.UUID] | None = None
    integrations: Sequence[str] | None = None
    providers: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    name_pattern: str | None = None

    def counted(self) -> tuple[Any, ...]:
        """$1…$6: every filter the counters can answer for."""
        return (
            self.organization_id, self.client_id, self.clients, self.integrations, self.providers,
            self.statuses,
        )  # fmt: skip


def statement(name: str) -> str:
    """The text of one statement, for plans and benchmarks that must run exactly what the API runs."""
    return _SQL[name]


async def get_account(
    connection: asyncpg.Connection,
    *,
    account_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    lock: bool = False,
) -> asyncpg.Record | None:
    """A live account within the scope; `lock` takes its row lock (inside a transaction)."""
    query = _SQL["lock_account" if lock else "get_account"]
    row: asyncpg.Record | None = await connection.fetchrow(query, account_id, organization_id, client_id)
    return row


async def get_credentials(
    connection: asyncpg.Connection, *, account_id: uuid.UUID, organization_id: uuid.UUID | None
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        _SQL["get_credentials"], account_id, organization_id
    )
    return row


async def insert_account(
    connection: asyncpg.Connection,
    *,
    values: Mapping[str, Any],
    sealed_credentials: Sealed,
    event: Mapping[str, Any],
) -> asyncpg.Record | None:
    """The account and its account.connected event (`event`: the payload the database completes);
    None when the account's client is not one of its organization."""
    row: asyncpg.Record | None = await connection.fetchrow(
        _SQL["insert_account"],
        *(values[column] for column in _INSERTED),
        sealed_credentials.ciphertext,
        sealed_credentials.key_id,
        uuid.uuid4(),
        event,
        CHANNEL,
    )
    return row


async def update_account(
    connection: asyncpg.Connection,
    *,
    account_id: uuid.UUID,
    expected_version: int,
    values: Mapping[str, Any],
    sealed_credentials: Sealed | None,
    event: Mapping[str, Any],
) -> asyncpg.Record | None:
    """The change and its account.updated event; None when the account is no longer at that version."""
    row: asyncpg.Record | None = await connection.fetchrow(
        _SQL["update_account"],
        account_id,
        expected_version,
        *(values[column] for column in _UPDATED),
        sealed_credentials.ciphertext if sealed_credentials else None,
        sealed_credentials.key_id if sealed_credentials else None,
        values["status"],
        values["status_reason"],
        uuid.uuid4(),
        event,
        CHANNEL,
    )
    return row


async def delete_account(
    connection: asyncpg.Connection, *, account_id: uuid.UUID, expected_version: int, event: Mapping[str, Any]
) -> asyncpg.Record | None:
    """The tombstone (credentials destroyed) and its account.removed event, guarded like an update."""
    row: asyncpg.Record | None = await connection.fetchrow(
        _SQL["delete_account"], account_id, expected_version, uuid.uuid4(), event, CHANNEL
    )
    return row


async def list_accounts(
    connection: asyncpg.Connection,
    *,
    ordering: str,
    filters: Filters,
    after: tuple[Any, uuid.UUID | None] = (None, None),
    offset: int = 0,
    limit: int,
) -> list[asyncpg.Record]:
    """One page in `ordering` (a `list_*` statement), starting after the keyset `after`, or at `offset`."""
    rows: list[asyncpg.Record] = await connection.fetch(
        _SQL[ordering], *filters.counted(), filters.name_pattern, *after, offset, limit
    )
    return rows


async def count_accounts(connection: asyncpg.Connection, *, filters: Filters) -> int:
    """totalItems: from the counters, or counted when a name pattern (which no counter holds) is set."""
    if filters.name_pattern is None:
        total: int = await connection.fetchval(_SQL["count_accounts_from_counters"], *filters.counted())
    else:
        total = await connection.fetchval(_SQL["count_accounts"], *filters.counted(), filters.name_pattern)
    return total
