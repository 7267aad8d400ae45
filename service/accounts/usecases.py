"""Account use cases: each change is one statement writing the account row and its outbox event."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from service.accounts import changes, idempotency, preconditions
from service.accounts import validation as rules
from service.accounts.listing import Listing, encode_cursor
from service.accounts.representation import snapshot
from service.accounts.schema import AccountCreate, AccountPatch, StatusReport
from service.auth.principal import Principal
from service.crypto import CredentialCipher, Sealed
from service.db.pool import Database
from service.db.sql import load_queries
from service.errors import BadRequest, ConstraintViolations, NotFound, PreconditionFailed, Violation
from service.events.outbox import CHANNEL
from service.integrations.catalog import Catalog, Integration
from service.web import constraints

_SQL = load_queries("service.accounts", "queries.sql")
_UNIQUE_EXTERNAL_ID = "accounts_external_id_key"
_CLIENT_IRI = re.compile(r"^/api/clients/([0-9a-fA-F-]{36})$")
_canonical = msgspec.json.Encoder(order="sorted").encode

NOT_FOUND = "Not Found"
Row = Mapping[str, Any]
# Writes the account row read (returns None when its version has changed since).
_Write = Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[asyncpg.Record | None]]
# Columns of insert_account's $1…$13, in order.
_INSERTED = (
    "id", "organization_id", "client_id", "integration", "provider", "type", "name", "headline", "avatar",
    "external_id", "status", "settings", "metadata",
)


@dataclass(frozen=True, slots=True)
class Created:
    """The account a POST answers with (freshly created, or replayed for its Idempotency-Key)."""

    status: int
    account_id: uuid.UUID
    document: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class _NewAccount:
    """What a valid POST body guarantees."""

    integration: Integration
    client_id: uuid.UUID
    name: str
    credentials: dict[str, str]


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[asyncpg.Record]
    total: int | None
    next_cursor: str | None


def _scope(principal: Principal) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(organization, client) every query is limited to; None means the caller is not limited by it."""
    return principal.organization_id, principal.client_id


def _taken() -> ConstraintViolations:
    return ConstraintViolations([Violation("externalId", constraints.ALREADY_USED, constraints.NOT_UNIQUE)])


class Accounts:
    """The accounts of every organization, as each caller may see and change them."""

    def __init__(self, catalog: Catalog, cipher: CredentialCipher, database: Callable[[], Database]) -> None:
        self.catalog = catalog
        self.cipher = cipher
        self._database = database

    async def get(self, principal: Principal, account_id: uuid.UUID) -> asyncpg.Record:
        async with self._database().connection() as connection:
            row = await connection.fetchrow(_SQL["get_account"], account_id, *_scope(principal))
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def collection(self, principal: Principal, listing: Listing) -> Page:
        # What the counters can answer for (every filter but the name), then the name pattern.
        counted = (
            *_scope(principal),
            listing.clients,
            listing.integrations,
            listing.providers,
            listing.statuses,
        )
        filters = (*counted, listing.name_pattern)
        limit = listing.page.items_per_page
        async with self._database().connection() as connection:
            if listing.cursor_mode:
                after = listing.after.keyset() if listing.after else (None, None)
                rows = await connection.fetch(
                    _SQL[listing.ordering.query_name], *filters, *after, 0, limit + 1
                )
                more = len(rows) > limit
                rows = rows[:limit]
                cursor = encode_cursor(listing.ordering, rows[-1]) if more else None
                return Page(rows, None, cursor)
            rows = await connection.fetch(
                _SQL[listing.ordering.query_name], *filters, None, None, listing.page.offset, limit
            )
            if listing.name_pattern is None:
                total = await connection.fetchval(_SQL["count_accounts_from_counters"], *counted)
            else:
                total = await connection.fetchval(_SQL["count_accounts"], *filters)
        return Page(rows, total, None)

    async def credentials(self, principal: Principal, account_id: uuid.UUID) -> dict[str, str]:
        async with self._database().connection() as connection:
            row = await connection.fetchrow(_SQL["get_credentials"], account_id, principal.organization_id)
        if row is None:
            raise NotFound(NOT_FOUND)
        if row["credentials"] is None:
            return {}
        return self.cipher.open(account_id, Sealed(row["credentials"], row["credentials_key_id"]))

    async def create(
        self, principal: Principal, body: AccountCreate, idempotency_key: str | None
    ) -> Created:
        organization_id = principal.organization_id
        if organization_id is None:
            raise NotFound(NOT_FOUND)
        _reject_nul(body)
        try:
            if idempotency_key:
                return await self._create_once(principal, organization_id, body, idempotency_key)
            async with self._database().connection() as connection:
                row = await self._insert(connection, principal, organization_id, body)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == _UNIQUE_EXTERNAL_ID:
                raise _taken() from None
            raise
        except asyncpg.ForeignKeyViolationError:
            # The client was deleted while the account was being created.
            raise BadRequest(f'Item not found for "{body.client or ""}".') from None
        return Created(201, row["id"], snapshot(row))

    async def _create_once(
        self, principal: Principal, organization_id: uuid.UUID, body: AccountCreate, key: str
    ) -> Created:
        """A POST with an Idempotency-Key: the key is claimed and remembered in the account's transaction."""
        fingerprint = self._fingerprint(principal, body)
        scope = idempotency.scope_of(principal)
        async with self._database().transaction() as connection:
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
        """The account and its account.connected event, in one statement."""
        client_id = await self._client(connection, principal, _client_id(body.client), body.client)
        valid = self._check_create(body, client_id)
        account_id = uuid.uuid4()
        sealed = self.cipher.seal(account_id, valid.credentials)
        values = {
            "id": account_id,
            "organization_id": organization_id,
            "client_id": valid.client_id,
            "integration": valid.integration.slug,
            "provider": valid.integration.provider,
            "type": valid.integration.type,
            "name": valid.name,
            "headline": body.headline,
            "avatar": body.avatar,
            "external_id": body.external_id,
            "status": body.status or "connecting",
            "status_reason": None,
            "settings": body.settings or {},
            "metadata": body.metadata or {},
        }
        row: asyncpg.Record = await connection.fetchrow(
            _SQL["insert_account"],
            *(values[column] for column in _INSERTED),
            sealed.ciphertext,
            sealed.key_id,
            uuid.uuid4(),
            _event_payload(values),
            CHANNEL,
        )
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
            sealed = self.cipher.seal(account_id, change.credentials) if change.credentials else None
            values = change.values
            payload = _event_payload({**row, **values})
            payload["changes"] = changed
            updated: asyncpg.Record | None = await connection.fetchrow(
                _SQL["update_account"],
                account_id,
                row["version"],
                values["name"],
                values["headline"],
                values["avatar"],
                values["external_id"],
                values["settings"],
                values["metadata"],
                sealed.ciphertext if sealed else None,
                sealed.key_id if sealed else None,
                values["status"],
                values["status_reason"],
                uuid.uuid4(),
                payload,
                CHANNEL,
            )
            return updated

        try:
            return await self._change(principal, account_id, if_match, write)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == _UNIQUE_EXTERNAL_ID:
                raise _taken() from None
            raise

    async def delete(self, principal: Principal, account_id: uuid.UUID, if_match: str | None) -> None:
        async def write(connection: asyncpg.Connection, row: asyncpg.Record) -> asyncpg.Record | None:
            removed: asyncpg.Record | None = await connection.fetchrow(
                _SQL["delete_account"], account_id, row["version"], uuid.uuid4(), _event_payload(row), CHANNEL
            )
            return removed

        await self._change(principal, account_id, if_match, write)

    async def _change(
        self, principal: Principal, account_id: uuid.UUID, if_match: str | None, write: _Write
    ) -> asyncpg.Record:
        """Read the account, check If-Match, then `write` guarded by the version read: two round trips,
        no transaction held across them. If the account changed in between, read and write once more
        with the row locked, so a busy account still gets its change through (or a 404 / 412)."""
        async with self._database().connection() as connection:
            row = await self._read(connection, _SQL["get_account"], principal, account_id, if_match)
            written = await write(connection, row)
            if written is None:
                async with connection.transaction():
                    row = await self._read(connection, _SQL["lock_account"], principal, account_id, if_match)
                    written = await write(connection, row)
        if written is None:
            raise PreconditionFailed(preconditions.STALE)
        return written

    async def _read(
        self,
        connection: asyncpg.Connection,
        query: str,
        principal: Principal,
        account_id: uuid.UUID,
        if_match: str | None,
    ) -> asyncpg.Record:
        row: asyncpg.Record | None = await connection.fetchrow(query, account_id, *_scope(principal))
        if row is None:
            raise NotFound(NOT_FOUND)
        preconditions.require(if_match, row["version"])
        return row

    def _integration_of(self, row: Row) -> Integration:
        integration = self.catalog.get(row["integration"])
        if integration is None:
            raise RuntimeError(f"account {row['id']} has an unknown integration")
        return integration

    def _fingerprint(self, principal: Principal, body: AccountCreate) -> bytes:
        scope = principal.client_id.bytes if principal.client_id else b""
        return self.cipher.fingerprint(b"POST /api/accounts", scope, _canonical(body))

    async def _client(
        self,
        connection: asyncpg.Connection,
        principal: Principal,
        requested: uuid.UUID | None,
        iri: str | None,
    ) -> uuid.UUID | None:
        """The account's client: the customer's own, or one of the owner's organization (400 otherwise)."""
        if requested is None:
            return principal.client_id
        if principal.client_id is not None:
            visible = requested == principal.client_id
        else:
            query = _SQL["client_in_organization"]
            visible = await connection.fetchval(query, requested, principal.organization_id)
        if not visible:
            raise BadRequest(f'Item not found for "{iri}".')
        return requested

    def _check_create(self, body: AccountCreate, client_id: uuid.UUID | None) -> _NewAccount:
        """Every violation of a new account at once (422), like Symfony's validator."""
        if body.status is not None and body.status != "paused":
            raise BadRequest('The "status" attribute is read-only: a new account may only start "paused".')
        found: list[Violation] = []
        rules.check_name(body.name, found)
        rules.check_length("headline", body.headline, rules.MAX_HEADLINE, found)
        rules.check_avatar(body.avatar, found)
        integration = self._check_integration(body.integration, found)
        if client_id is None:
            found.append(Violation("client", constraints.NULL, constraints.NOT_NULL))
        rules.check_external_id(body.external_id, found)
        rules.check_json_object("settings", body.settings, found)
        rules.check_json_object("metadata", body.metadata, found)
        if integration is not None:
            rules.check_credentials(integration, body.credentials, found)
        elif body.credentials is None:
            found.append(Violation("credentials", constraints.NULL, constraints.NOT_NULL))
        if found or integration is None or client_id is None or body.name is None or body.credentials is None:
            raise ConstraintViolations(found)
        return _NewAccount(integration, client_id, body.name, body.credentials)

    def _check_integration(self, reference: str | None, found: list[Violation]) -> Integration | None:
        if reference is None:
            found.append(Violation("integration", constraints.NULL, constraints.NOT_NULL))
            return None
        integration = self.catalog.resolve(reference)
        if integration is None:
            found.append(Violation("integration", constraints.INVALID_CHOICE, constraints.NO_SUCH_CHOICE))
            return None
        if not self.catalog.is_available(integration):
            message = f'The integration "{integration.slug}" is not available.'
            found.append(Violation("integration", message, constraints.NO_SUCH_CHOICE))
            return None
        return integration


def _client_id(iri: str | None) -> uuid.UUID | None:
    """The client id of an IRI; a malformed IRI is a 400, as API Platform answers."""
    if iri is None:
        return None
    if match := _CLIENT_IRI.match(iri):
        try:
            return uuid.UUID(match[1])
        except ValueError:
            pass
    raise BadRequest(f'Invalid IRI "{iri}".')


def _reject_nul(body: AccountCreate) -> None:
    for name, value in (
        ("name", body.name),
        ("headline", body.headline),
        ("avatar", body.avatar),
        ("integration", body.integration),
        ("client", body.client),
        ("externalId", body.external_id),
        ("settings", body.settings),
        ("metadata", body.metadata),
        ("credentials", body.credentials),
        ("status", body.status),
    ):
        constraints.reject_nul(name, value)


def _event_payload(values: Row) -> dict[str, Any]:
    """An event's payload (the account's read shape) from the values written; the statement adds what
    the database assigns: version and timestamps."""
    return snapshot({"created_at": None, **values, "version": None, "updated_at": None})
