"""Organization use cases: an owner reads and changes only its own organization."""

from __future__ import annotations

import uuid

import msgspec

from service.auth.guards import tenant_of
from service.auth.principal import Principal
from service.db.pool import Database
from service.db.sql import Row, load_queries
from service.organizations.origins import validated_origins
from service.organizations.schema import OrganizationPatch
from service.web.resource import found, not_found

_SQL = load_queries("service.organizations", "queries.sql")




class Organizations:
    """The caller's own organization; any other id does not exist for it (404)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, principal: Principal, organization_id: uuid.UUID) -> Row:
        statement = _SQL["get_organization"]
        async with self._database.connection() as connection:
            return found(await connection.fetchrow(statement, organization_id, tenant_of(principal)))

    async def update(self, principal: Principal, organization_id: uuid.UUID, patch: OrganizationPatch) -> Row:
        if patch.allowed_origins is msgspec.UNSET:
            return await self.get(principal, organization_id)
        origins = validated_origins(patch.allowed_origins)
        async with self._database.connection() as connection:
            row: Row | None = await connection.fetchrow(
                _SQL["update_allowed_origins"], organization_id, tenant_of(principal), origins
            )
        if row is None:
            raise not_found()
        return row

    async def allowed_origins(self) -> dict[str, frozenset[uuid.UUID]]:
        """Every allowed origin with the organizations allowing it (only organizations that allow any)."""
        async with self._database.connection() as connection:
            rows = await connection.fetch(_SQL["all_allowed_origins"])
        found: dict[str, set[uuid.UUID]] = {}
        for row in rows:
            for origin in row["allowed_origins"]:
                found.setdefault(origin, set()).add(row["id"])
        return {origin: frozenset(ids) for origin, ids in found.items()}
