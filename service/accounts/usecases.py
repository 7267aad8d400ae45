"""Account use cases: each change is one statement writing the account row and its outbox event."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from service.accounts import changes, creating, idempotency, preconditions, queries
from service.accounts.listing import Listing, encode_cursor
from service.accounts.representation import event_payload, snapshot
from service.accounts.schema import AccountCreate, AccountPatch, StatusReport
from service.auth.principal import Principal
from service.crypto import CredentialCipher, Sealed
from service.db.pool import Database
from service.errors import ConstraintViolations, PreconditionFailed, Violation
from service.integrations.catalog import Catalog, Integration
from service.web import constraints
from service.web.iri import item_not_found
from service.web.resource import not_found

_UNIQUE_EXTERNAL_ID = "accounts_external_id_key"
_canonical = msgspec.json.Encoder(order="sorted").encode

Row = Mapping[str, Any]
# Writes the account row read (returns None when its version has changed since).
_Write = Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[asyncpg.Record | None]]


@dataclass(frozen=True, slots=True)
class Created:
    """The account a POST answers with (freshly created, or replayed for its Idempotency-Key)."""

    status: int
    account_id: uuid.UUID
    document: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[asyncpg.Record]
    total: int | None
    next_cursor: str | None


def _taken() -> ConstraintViolations:
    return ConstraintViolations([Violation("externalId", constraints.ALREADY_USED, constraints.NOT_UNIQUE)])


def _filters(principal: Principal, listing: Listing) -> queries.Filters:
    """The caller's scope (None: not limited by it), then the query's filters."""
    return queries.Filters(
        organization_id=principal.organization_id,
        client_id=principal.client_id,
        clients=listing.clients,
        integrations=listing.integrations,
        providers=listing.providers,
        statuses=listing.statuses,
        name_pattern=listing.name_pattern,
    )


class Accounts:
    """The accounts of every organization, as each caller may see and change them."""

    def __init__(
        self,
        catalog: Catalog,
        cipher: CredentialCipher,
        database: Database,
        *,
        pagination_max_offset: int = 10_000,
    ) -> None:
        self.catalog = catalog
        self.cipher = cipher
        self.pagination_max_offset = pagination_max_offset
        self._database = database

    async def get(self, principal: Principal, account_id: uuid.UUID) -> asyncpg.Record:
        async with self._database.connection() as connection:
            row = await _find(connection, principal, account_id)
        if row is None:
            raise not_found()
        return row

    async def collection(self, principal: Principal, listing: Listing) -> Page:
        filters = _filters(principal, listing)
        ordering = listing.ordering.query_name
        limit = listing.page.items_per_page
        async with self._database.connection() as connection:
            if listing.cursor_mode:
                after = listing.after.keyset() if listing.after else (None, None)
                rows = await queries.list_accounts(
                    connection, ordering=ordering, filters=filters, after=after, limit=limit + 1
                )
                more = len(rows) > limit
                rows = rows[:limit]
                cursor = encode_cursor(listing.ordering, rows[-1]) if more else None
                return Page(rows, None, cursor)
            rows = await queries.list_accounts(
                connection, ordering=ordering, filters=filters, offset=listing.page.offset, limit=limit
            )
            total = await queries.count_accounts(connection, filters=filters)
        return Page(rows, total, None)

    async def credentials(self, principal: Principal, account_id: uuid.UUID) -> dict[str, str]:
        async with self._database.connection() as connection:
            row = await queries.get_credentials(
                connection, account_id=account_id, organization_id=principal.organization_id
            )
        if row is None:
            raise not_found()
        if row["credentials"] is None:
            return {}
        return self.cipher.open(account_id, Sealed(row["credentials"], row["credentials_key_id"]))

    async def create(
        self, principal: Principal, body: AccountCreate, idempotency_key: str | None
    ) -> Created:
        organization_id = principal.organization_id
        if organization_id is None:
            raise not_found()
        constraints.reject_nul_fields(body)
        try:
            if idempotency_key:
                return await self._create_once(principal, organization_id, body, idempotency_key)
            async with self._database.connection() as connection:
                row = await self._insert(connection, principal, organization_id, body)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == _UNIQUE_EXTERNAL_ID:
                raise _taken() from None
            raise
        except asyncpg.ForeignKeyViolationError:
            # The client was deleted while the account was being created.
            raise item_not_found(body.client or "") from None
        return Created(201, row["id"], snapshot(row))

    async def _create_once(
        self, principal: Principal, organization_id: uuid.UUID, body: AccountCreate, key: str
    ) -> Created:
        """A POST with an Idempotency-Key: the key is claimed and remembered in the account's transaction."""
        client_scope = principal.client_id.bytes if principal.client_id else b""
        fingerprint = self.cipher.fingerprint(b"POST /api/accounts", client_scope, _canonical(body))
        scope = idempotency.scope_of(principal)
        async with self._database.transaction() as connection:
            stored = await idempotency.claim(connection, organization_id, scope, key, fingerprint)
            if stored is not None:
                return Created(stored.status, stored.account_id, stored.snapshot, replayed=True)
            row = await self._insert(connection, principal, organization_id, body)
            document = snapshot(row)
            await idempotency.remember(connection, organization_id, scope, key, fingerprint, 201, document)
        return Created(201, row["id"], document)

    async def _insert(
        self,
        connection: asyncpg.Connection,
        principal: Principal,
        organization_id: uuid.UUID,
        body: AccountCreate,
    ) -> asyncpg.Record:
        """The account and its account.connected event, in one statement that also checks the client."""
        client_id = creating.requested_client(principal, body.client)
        try:
            valid = creating.check_create(self.catalog, body, client_id)
        except ConstraintViolations:
            # An unknown client is a 400 before any violation of the body is a 422, as in API Platform.
            await creating.require_visible_client(connection, principal, body.client)
            raise
        account_id = uuid.uuid4()
        values = creating.row_values(account_id, organization_id, valid, body)
        row = await queries.insert_account(
            connection,
            values=values,
            sealed_credentials=self.cipher.seal(account_id, valid.credentials),
            event=event_payload(values),
        )
        if row is None:
            raise item_not_found(body.client or "")
        return row

    async def update(
        self,
        principal: Principal,
        account_id: uuid.UUID,
        patch: AccountPatch | StatusReport,
        if_match: str | None,
    ) -> asyncpg.Record:
        if isinstance(patch, AccountPatch):
            changes.check_patch(patch)

        async def write(connection: asyncpg.Connection, row: asyncpg.Record) -> asyncpg.Record | None:
            if isinstance(patch, StatusReport):
                change = changes.report(row, patch)
            else:
                change = changes.merge(row, patch, self._integration_of(row))
            changed = change.changed
            if not changed:
                return row
            return await queries.update_account(
                connection,
                account_id=account_id,
                expected_version=row["version"],
                values=change.values,
                sealed_credentials=(
                    self.cipher.seal(account_id, change.credentials) if change.credentials else None
                ),
                event={**event_payload({**row, **change.values}), "changes": changed},
            )

        try:
            return await self._change(principal, account_id, if_match, write)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == _UNIQUE_EXTERNAL_ID:
                raise _taken() from None
            raise

    async def delete(self, principal: Principal, account_id: uuid.UUID, if_match: str | None) -> None:
        async def write(connection: asyncpg.Connection, row: asyncpg.Record) -> asyncpg.Record | None:
            return await queries.delete_account(
                connection, account_id=account_id, expected_version=row["version"], event=event_payload(row)
            )

        await self._change(principal, account_id, if_match, write)

    async def _change(
        self, principal: Principal, account_id: uuid.UUID, if_match: str | None, write: _Write
    ) -> asyncpg.Record:
        """Read the account, check If-Match, then `write` guarded by the version read: two round trips,
        no transaction held across them. If the account changed in between, read and write once more
        with the row locked, so a busy account still gets its change through (or a 404 / 412)."""
        async with self._database.connection() as connection:
            row = await _read(connection, principal, account_id, if_match, lock=False)
            written = await write(connection, row)
            if written is None:
                async with connection.transaction():
                    row = await _read(connection, principal, account_id, if_match, lock=True)
                    written = await write(connection, row)
        if written is None:
            raise PreconditionFailed(preconditions.STALE)
        return written

    def _integration_of(self, row: Row) -> Integration:
        integration = self.catalog.get(row["integration"])
        if integration is None:
            raise RuntimeError(f"account {row['id']} has an unknown integration")
        return integration


async def _find(
    connection: asyncpg.Connection, principal: Principal, account_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await queries.get_account(
        connection,
        account_id=account_id,
        organization_id=principal.organization_id,
        client_id=principal.client_id,
        lock=lock,
    )


async def _read(
    connection: asyncpg.Connection,
    principal: Principal,
    account_id: uuid.UUID,
    if_match: str | None,
    *,
    lock: bool,
) -> asyncpg.Record:
    row = await _find(connection, principal, account_id, lock=lock)
    if row is None:
        raise not_found()
    preconditions.require(if_match, row["version"])
    return row
