"""API keys: random strings shown once, stored as SHA-256, acting as their organization's owner."""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID

from service.auth.principal import Principal, Role
from service.db.pool import Database
from service.db.sql import load_queries

_SQL = load_queries("service.auth", "queries.sql")
PREFIX = "ak_"
# Longer than any key this service hands out; anything bigger is not worth hashing.
MAX_LENGTH = 128


def new_api_key() -> str:
    """256 random bits: a fast hash is enough to store them, unlike human-chosen passwords."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def api_key_subject(key_id: UUID) -> str:
    return f"api-key:{key_id}"


def api_key_id(principal: Principal) -> UUID | None:
    """The id of the API key a Principal authenticated with, if it did."""
    prefix, _, rest = principal.subject.partition(":")
    if prefix != "api-key" or principal.jti is not None:
        return None
    try:
        return UUID(rest)
    except ValueError:
        return None


async def principal_for_api_key(db: Database, key: str) -> Principal | None:
    """The owner Principal of the key's organization, or None for an unknown or revoked key."""
    if not key or len(key) > MAX_LENGTH:
        return None
    async with db.connection() as connection:
        row = await connection.fetchrow(_SQL["api_key_owner"], hash_api_key(key))
    if row is None:
        return None
    return Principal(
        subject=api_key_subject(row["id"]),
        roles=frozenset({Role.OWNER}),
        organization_id=row["organization_id"],
    )
