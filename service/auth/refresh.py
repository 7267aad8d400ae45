"""Rotating refresh tokens: opaque, stored hashed, one use each; reuse revokes the whole family."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from service.auth.principal import Principal, Role
from service.db.sql import load_queries
from service.errors import Unauthenticated

_SQL = load_queries("service.auth", "queries.sql")

INVALID_REFRESH_TOKEN = "Invalid JWT Refresh Token"  # noqa: S105 - a message, not a secret
MAX_LENGTH = 256


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue_refresh_token(
    connection: asyncpg.Connection, user_id: uuid.UUID, ttl: int, family_id: uuid.UUID | None = None
) -> str:
    """A new refresh token for the user, starting a family unless `family_id` continues one."""
    token = secrets.token_urlsafe(48)
    await connection.execute(
        _SQL["insert_refresh_token"], uuid.uuid4(), family_id or uuid.uuid4(), user_id, _hash(token), ttl
    )
    return token


@dataclass(frozen=True, slots=True)
class Rotation:
    """The outcome of presenting a refresh token: a successor (and its user), or a refusal."""

    principal: Principal | None
    refresh_token: str | None
    family_id: uuid.UUID | None = None
    # A spent token came back: its family is revoked, and so must be the access tokens it minted.
    reused: bool = False


async def rotate_refresh_token(connection: asyncpg.Connection, token: str, ttl: int) -> Rotation:
    """Spend `token` and issue its successor; a spent token revokes its family and is refused.

    Runs in the caller's transaction, which must commit even on refusal so a revocation sticks.
    """
    if not token or len(token) > MAX_LENGTH:
        return Rotation(None, None)
    row = await connection.fetchrow(_SQL["lock_refresh_token"], _hash(token))
    if row is None or row["revoked_at"] is not None or row["expired"]:
        return Rotation(None, None)
    if row["spent_at"] is not None:
        await connection.execute(_SQL["revoke_refresh_family"], row["family_id"])
        return Rotation(None, None, row["family_id"], reused=True)
    await connection.execute(_SQL["spend_refresh_token"], row["id"])
    successor = await issue_refresh_token(connection, row["user_id"], ttl, row["family_id"])
    principal = Principal(str(row["user_id"]), frozenset({Role(row["role"])}), row["organization_id"])
    return Rotation(principal, successor, row["family_id"])


def refused() -> Unauthenticated:
    return Unauthenticated(INVALID_REFRESH_TOKEN)
