"""Writes an account change's event into the outbox, inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import asyncpg

from service.db.sql import load_queries

_SQL = load_queries("service.events", "outbox.sql")

EventType = Literal["account.connected", "account.updated", "account.removed"]
CHANNEL = "accounts_outbox"


async def record_event(
    connection: asyncpg.Connection,
    *,
    event_type: EventType,
    snapshot: Mapping[str, Any],
    organization_id: uuid.UUID,
    client_id: uuid.UUID,
    account_id: uuid.UUID,
    account_version: int,
    changes: Sequence[str] = (),
) -> uuid.UUID:
    """Insert the event row and NOTIFY the relay; both take effect only if the transaction commits.

    `snapshot` is the account's plain-JSON read shape (never credentials); updates list their
    changed field names in `changes`. Call it after the statement that writes (and so locks) the
    account row: that lock orders an account's changes, so its events' positions follow commit order,
    which the relay relies on to publish them in order.
    """
    if not connection.is_in_transaction():
        raise RuntimeError("an event must be recorded in the transaction of its change")
    event_id = uuid.uuid4()
    payload = dict(snapshot)
    if event_type == "account.updated":
        payload["changes"] = list(changes)
    await connection.execute(
        _SQL["insert_event"],
        event_id,
        event_type,
        account_id,
        organization_id,
        client_id,
        account_version,
        payload,
        CHANNEL,
    )
    return event_id
