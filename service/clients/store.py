"""Client use cases; every statement is scoped to the caller's organization in SQL."""

from __future__ import annotations

import uuid

import msgspec

from service.auth.guards import tenant_of
from service.auth.principal import Principal
from service.clients.schema import ClientCreate, ClientPatch, validated
from service.db.pool import Database
from service.db.sql import Row, load_queries
from service.errors import Conflict
from service.web.pagination import PageRequest
from service.web.resource import found, like_pattern, not_found

_SQL = load_queries("service.clients", "queries.sql")




class Clients:
    """The organization's clients, as owners and viewers may see and change them."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def collection(
        self, principal: Principal, page: PageRequest, name: str | None
    ) -> tuple[int, list[Row]]:
        organization, pattern = tenant_of(principal), like_pattern(name)
        async with self._database.connection() as connection:
            total = await connection.fetchval(_SQL["count_clients"], organization, pattern)
            rows = await connection.fetch(
                _SQL["page_clients"], organization, pattern, page.items_per_page, page.offset
            )
        return total, rows

    async def get(self, principal: Principal, client_id: uuid.UUID) -> Row:
        async with self._database.connection() as connection:
            return found(await connection.fetchrow(_SQL["get_client"], client_id, tenant_of(principal)))

    async def create(self, principal: Principal, body: ClientCreate) -> Row:
        name, website = validated(body.name, body.website)
        async with self._database.connection() as connection:
            row: Row = await connection.fetchrow(
                _SQL["insert_client"], uuid.uuid4(), tenant_of(principal), name, website
            )
        return row

    async def update(self, principal: Principal, client_id: uuid.UUID, patch: ClientPatch) -> Row:
        organization = tenant_of(principal)
        async with self._database.transaction() as connection:
            current = await connection.fetchrow(_SQL["lock_client"], client_id, organization)
            if current is None:
                raise not_found()
            name, website = validated(
                current["name"] if patch.name is msgspec.UNSET else patch.name,
                current["website"] if patch.website is msgspec.UNSET else patch.website,
            )
            row: Row = await connection.fetchrow(
                _SQL["update_client"], client_id, organization, name, website
            )
        return row

    async def delete(self, principal: Principal, client_id: uuid.UUID) -> None:
        """Refused while the client has live accounts: removing them is what tells the inbox workers."""
        organization = tenant_of(principal)
        async with self._database.transaction() as connection:
            # The row lock waits for accounts being added right now, so the check below sees them.
            if await connection.fetchrow(_SQL["lock_client"], client_id, organization) is None:
                raise not_found()
            if await connection.fetchval(_SQL["client_has_live_accounts"], client_id):
                raise Conflict("The client still has connected accounts; remove them first.")
            await connection.execute(_SQL["delete_client"], client_id, organization)
