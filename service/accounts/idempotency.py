"""Idempotency-Key on POST: per caller, 24 hours, replay of the first success, 409 while it runs.

Keys belong to the caller as Stripe scopes them: an organization's owners and API keys share one space,
each client's customer tokens have their own, so no caller can block or probe another's keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from service.accounts.validation import IDEMPOTENCY_KEY_REUSED
from service.auth.principal import Principal
from service.db.sql import load_queries
from service.errors import BadRequest, Conflict, ConstraintViolations, Violation

_SQL = load_queries("service.accounts", "queries.sql")
TTL_SECONDS = 24 * 3600
# First half of the two-int advisory lock key: this service's idempotency keys ("ACCI").
_LOCK_CLASS = 0x41434349
KEY_PATTERN = "^[\\x21-\\x7e]{1,255}$"
_KEY = re.compile(KEY_PATTERN)

IN_PROGRESS = "A request with this Idempotency-Key is still being processed; retry later."
REUSED = "This Idempotency-Key was already used with a different request."


@dataclass(frozen=True, slots=True)
class Stored:
    """The first successful response to a key: its status and the account it showed."""

    status: int
    account_id: UUID
    snapshot: dict[str, Any]


def parse_key(header: str | None) -> str | None:
    """The header's key, if any; printable ASCII without spaces, at most 255 characters."""
    if header is None:
        return None
    if not _KEY.match(header):
        raise BadRequest("The Idempotency-Key header must be 1 to 255 printable ASCII characters.")
    return header


def scope_of(principal: Principal) -> str:
    """Whose keys these are within the organization: its own (owners, API keys) or one client's."""
    return "organization" if principal.client_id is None else f"client:{principal.client_id}"


def _lock_id(organization_id: UUID, scope: str, key: str) -> int:
    digest = hashlib.sha256(organization_id.bytes + scope.encode() + b"\x00" + key.encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


async def claim(
    connection: asyncpg.Connection, organization_id: UUID, scope: str, key: str, fingerprint: bytes
) -> Stored | None:
    """Inside the creating transaction: 409 if the key is in use, the stored response if it is done."""
    lock = _lock_id(organization_id, scope, key)
    locked = await connection.fetchval(_SQL["try_lock_idempotency_key"], _LOCK_CLASS, lock)
    if not locked:
        raise Conflict(IN_PROGRESS)
    row = await connection.fetchrow(_SQL["find_idempotency_key"], organization_id, key, scope)
    if row is None:
        return None
    if not hmac.compare_digest(row["request_hash"], fingerprint):
        raise ConstraintViolations([Violation("", REUSED, IDEMPOTENCY_KEY_REUSED)])
    return Stored(row["response_status"], row["account_id"], row["snapshot"])


async def remember(
    connection: asyncpg.Connection,
    organization_id: UUID,
    scope: str,
    key: str,
    fingerprint: bytes,
    status: int,
    snapshot: Mapping[str, Any],
) -> None:
    """Store the response in the same transaction as the account, and sweep a few expired keys."""
    await connection.execute(
        _SQL["save_idempotency_key"],
        organization_id,
        key,
        fingerprint,
        UUID(str(snapshot["id"])),
        status,
        dict(snapshot),
        TTL_SECONDS,
        scope,
    )
    await connection.execute(_SQL["purge_idempotency_keys"])
