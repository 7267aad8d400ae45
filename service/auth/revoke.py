"""Writing revocations: each one is a row and a NOTIFY to every API process, in one statement."""

from __future__ import annotations

import uuid

import asyncpg

from service.auth.revocation import Revocation, Revoked
from service.auth.tokens import LEEWAY_SECONDS
from service.db.sql import load_queries
from service.settings import Settings

_SQL = load_queries("service.auth", "revocation.sql")
CHANNEL = "token_revocations"


def horizon(settings: Settings) -> int:
    """Seconds a revocation must be kept: the longest life any token it covers can still have."""
    longest = max(settings.jwt_ttl, settings.customer_token_ttl, settings.worker_token_max_ttl)
    return longest + LEEWAY_SECONDS


async def revoke(connection: asyncpg.Connection, kind: Revoked, value: str, ttl: int) -> Revocation:
    """Refuse the tokens `kind`/`value` names from now on (for `ttl` seconds, then they are expired)."""
    row = await connection.fetchrow(_SQL["revoke"], kind.value, value, ttl, CHANNEL)
    await connection.execute(_SQL["purge_revocations"])
    return Revocation(Revoked(row["kind"]), row["value"], row["revoked_at"], row["expires_at"])


async def delete_user(connection: asyncpg.Connection, user_id: uuid.UUID, ttl: int) -> asyncpg.Record | None:
    """Delete the user (its refresh tokens go with it) and revoke its access tokens."""
    async with connection.transaction():
        row: asyncpg.Record | None = await connection.fetchrow(_SQL["delete_user"], user_id)
        if row is not None:
            await revoke(connection, Revoked.USER, str(user_id), ttl)
    return row


async def set_user_role(
    connection: asyncpg.Connection, user_id: uuid.UUID, role: str, ttl: int
) -> asyncpg.Record | None:
    """Change the role; a real change revokes the user's tokens, refresh tokens included."""
    async with connection.transaction():
        row: asyncpg.Record | None = await connection.fetchrow(_SQL["set_user_role"], user_id, role)
        if row is not None and row["previous_role"] != row["role"]:
            await revoke(connection, Revoked.USER, str(user_id), ttl)
            await connection.execute(_SQL["revoke_user_refresh_tokens"], user_id)
    return row
