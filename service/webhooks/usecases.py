"""Webhook endpoint use cases; every statement is scoped to the caller's organization in SQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from service.auth.guards import tenant_of
from service.auth.principal import Principal
from service.crypto import CredentialCipher
from service.db.pool import Database
from service.db.sql import Row
from service.errors import BadRequest, ConstraintViolations, Violation
from service.web.iri import client_iri, item_not_found, parse_client_iri
from service.web.pagination import PageRequest
from service.web.resource import not_found
from service.webhooks import signing, store
from service.webhooks.schema import EndpointCreate, EndpointFields, EndpointPatch, validated

DISABLED_BY_OWNER = "Disabled through the API."
# Fan-out per event is bounded: an organization's change never writes more deliveries than this.
MAX_ENDPOINTS = 20
DELIVERY_STATES = ("pending", "delivered", "failed")



def _values(fields: EndpointFields, clients: list[uuid.UUID] | None) -> store.EndpointValues:
    return store.EndpointValues(
        fields.url, fields.description, fields.events, clients, fields.enabled, DISABLED_BY_OWNER
    )


class Webhooks:
    """Endpoints and deliveries of the caller's organization."""

    def __init__(
        self, cipher: CredentialCipher, database: Database, *, allow_private: bool, overlap: int
    ) -> None:
        self._cipher = cipher
        self._database = database
        self._allow_private = allow_private
        self._overlap = overlap

    async def list_endpoints(self, principal: Principal, page: PageRequest) -> tuple[int, list[Row]]:
        organization = tenant_of(principal)
        async with self._database.connection() as connection:
            total = await store.count_endpoints(connection, organization=organization)
            rows = await store.page_endpoints(
                connection, organization=organization, limit=page.items_per_page, offset=page.offset
            )
        return total, rows

    async def get(self, principal: Principal, endpoint: uuid.UUID) -> Row:
        async with self._database.connection() as connection:
            organization = tenant_of(principal)
            row = await store.get_endpoint(connection, endpoint=endpoint, organization=organization)
        if row is None:
            raise not_found()
        return row

    async def create(self, principal: Principal, body: EndpointCreate) -> tuple[Row, str]:
        """The new endpoint and its secret (returned only here)."""
        organization = tenant_of(principal)
        fields = validated(
            EndpointFields(body.url or "", body.events or [], body.clients, body.description, body.enabled),
            allow_private=self._allow_private,
        )
        endpoint_id, secret = uuid.uuid4(), signing.new_secret()
        sealed = signing.seal(self._cipher, endpoint_id, secret)
        async with self._database.transaction() as connection:
            clients = await self._clients(connection, organization, fields.clients)
            # Serialises creations of one organization, so the cap holds under concurrency.
            await store.lock_organization(connection, organization=organization)
            if await store.count_endpoints(connection, organization=organization) >= MAX_ENDPOINTS:
                message = f"An organization has at most {MAX_ENDPOINTS} webhook endpoints."
                raise ConstraintViolations([Violation("", message, "webhook-endpoint-limit")])
            row = await store.insert_endpoint(
                connection,
                endpoint=endpoint_id,
                organization=organization,
                values=_values(fields, clients),
                sealed_secret=sealed.ciphertext,
                key_id=sealed.key_id,
            )
        return row, secret

    async def update(self, principal: Principal, endpoint: uuid.UUID, patch: EndpointPatch) -> Row:
        organization = tenant_of(principal)
        async with self._database.transaction() as connection:
            current = await store.get_endpoint(
                connection, endpoint=endpoint, organization=organization, lock=True
            )
            if current is None:
                raise not_found()
            ids = current["client_ids"]
            clients_now = None if ids is None else [client_iri(c) for c in ids]
            merged = EndpointFields(
                current["url"] if patch.url is msgspec.UNSET else patch.url,
                list(current["event_types"]) if patch.events is msgspec.UNSET else patch.events,
                clients_now if patch.clients is msgspec.UNSET else patch.clients,
                current["description"] if patch.description is msgspec.UNSET else patch.description,
                current["enabled"] if patch.enabled is msgspec.UNSET else patch.enabled,
            )
            fields = validated(merged, allow_private=self._allow_private)
            clients = await self._clients(connection, organization, fields.clients)
            return await store.update_endpoint(
                connection, endpoint=endpoint, organization=organization, values=_values(fields, clients)
            )

    async def rotate(self, principal: Principal, endpoint: uuid.UUID) -> tuple[Row, str]:
        secret = signing.new_secret()
        sealed = signing.seal(self._cipher, endpoint, secret)
        async with self._database.connection() as connection:
            row = await store.rotate_secret(
                connection,
                endpoint=endpoint,
                organization=tenant_of(principal),
                sealed_secret=sealed.ciphertext,
                key_id=sealed.key_id,
                overlap_seconds=self._overlap,
            )
        if row is None:
            raise not_found()
        return row, secret

    async def delete(self, principal: Principal, endpoint: uuid.UUID) -> None:
        async with self._database.connection() as connection:
            if not await store.delete_endpoint(
                connection, endpoint=endpoint, organization=tenant_of(principal)
            ):
                raise not_found()

    async def deliveries(
        self, principal: Principal, endpoint: uuid.UUID, state: str | None, page: PageRequest
    ) -> tuple[int, list[Row]]:
        organization = tenant_of(principal)
        if state is not None and state not in DELIVERY_STATES:
            raise BadRequest(f'Query parameter "status" must be one of {", ".join(DELIVERY_STATES)}.')
        async with self._database.connection() as connection:
            if not await store.endpoint_exists(connection, endpoint=endpoint, organization=organization):
                raise not_found()
            return await store.page_deliveries(
                connection,
                endpoint=endpoint,
                organization=organization,
                state=state,
                limit=page.items_per_page,
                offset=page.offset,
            )

    async def delivery(self, principal: Principal, endpoint: uuid.UUID, delivery: uuid.UUID) -> Row:
        async with self._database.connection() as connection:
            row = await store.get_delivery(
                connection, delivery=delivery, endpoint=endpoint, organization=tenant_of(principal)
            )
        if row is None:
            raise not_found()
        return row

    async def retry(self, principal: Principal, endpoint: uuid.UUID, delivery: uuid.UUID) -> Row:
        organization = tenant_of(principal)
        async with self._database.transaction() as connection:
            if not await store.retry_delivery(
                connection, delivery=delivery, endpoint=endpoint, organization=organization
            ):
                raise not_found()
            row = await store.get_delivery(
                connection, delivery=delivery, endpoint=endpoint, organization=organization
            )
        assert row is not None
        return row

    async def replay(self, principal: Principal, endpoint: uuid.UUID, since: datetime) -> int:
        organization = tenant_of(principal)
        async with self._database.transaction() as connection:
            if not await store.endpoint_exists(connection, endpoint=endpoint, organization=organization):
                raise not_found()
            return await store.replay(connection, endpoint=endpoint, organization=organization, since=since)

    @staticmethod
    async def _clients(
        connection: asyncpg.Connection, organization: uuid.UUID, iris: list[str] | None
    ) -> list[uuid.UUID] | None:
        """Client IRIs as ids; one the caller cannot see is API Platform's 400, as on accounts."""
        if iris is None:
            return None
        ids = {iri: parse_client_iri(iri) for iri in iris}
        known = await store.organization_clients(
            connection, organization=organization, ids=list(ids.values())
        )
        for iri, client_id in ids.items():
            if client_id not in known:
                raise item_not_found(iri)
        return list(ids.values())
