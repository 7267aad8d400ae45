"""The tenancy check every resource naming a client shares: does the client belong to the organization."""

from __future__ import annotations

import uuid

import asyncpg

from service.db.sql import load_queries

_SQL = load_queries("service.db", "tenancy.sql")


async def client_in_organization(
    connection: asyncpg.Connection, *, client_id: uuid.UUID, organization_id: uuid.UUID | None
) -> bool:
    found: bool = await connection.fetchval(_SQL["client_in_organization"], client_id, organization_id)
    return found
