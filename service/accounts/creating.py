"""What a POST must hold before an account is written: every rule at once, as Symfony's validator does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from service.accounts import validation as rules
from service.accounts.schema import AccountCreate
from service.auth.principal import Principal
from service.db.tenancy import client_in_organization
from service.errors import BadRequest, ConstraintViolations, Violation
from service.integrations.catalog import Catalog, Integration
from service.web import constraints
from service.web.iri import item_not_found, parse_client_iri


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What a valid POST body guarantees."""

    integration: Integration
    client_id: uuid.UUID
    name: str
    credentials: dict[str, str]


def check_create(catalog: Catalog, body: AccountCreate, client_id: uuid.UUID | None) -> NewAccount:
    """Every violation of a new account at once (422), like Symfony's validator."""
    if body.status is not None and body.status != "paused":
        raise BadRequest('The "status" attribute is read-only: a new account may only start "paused".')
    found: list[Violation] = []
    rules.check_name(body.name, found)
    rules.check_length("headline", body.headline, rules.MAX_HEADLINE, found)
    rules.check_avatar(body.avatar, found)
    integration = _check_integration(catalog, body.integration, found)
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
    return NewAccount(integration, client_id, body.name, body.credentials)


def _check_integration(catalog: Catalog, reference: str | None, found: list[Violation]) -> Integration | None:
    if reference is None:
        found.append(Violation("integration", constraints.NULL, constraints.NOT_NULL))
        return None
    integration = catalog.resolve(reference)
    if integration is None:
        found.append(Violation("integration", constraints.INVALID_CHOICE, constraints.NO_SUCH_CHOICE))
        return None
    if not catalog.is_available(integration):
        message = f'The integration "{integration.slug}" is not available.'
        found.append(Violation("integration", message, constraints.NO_SUCH_CHOICE))
        return None
    return integration


def row_values(
    account_id: uuid.UUID, organization_id: uuid.UUID, valid: NewAccount, body: AccountCreate
) -> dict[str, Any]:
    """The new account's columns."""
    return {
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


def requested_client(principal: Principal, iri: str | None) -> uuid.UUID | None:
    """The client an account is created for: the customer's own, or the one the body names (an IRI
    that names no client is a 400; a customer naming another client's is one too)."""
    if iri is None:
        return principal.client_id
    requested = parse_client_iri(iri)
    if principal.client_id is not None and requested != principal.client_id:
        raise item_not_found(iri)
    return requested


async def require_visible_client(
    connection: asyncpg.Connection, principal: Principal, iri: str | None
) -> None:
    """400 unless the client the body names is one the caller may create accounts for."""
    requested = requested_client(principal, iri)
    if iri is None or principal.client_id is not None or requested is None:
        return
    if not await client_in_organization(
        connection, client_id=requested, organization_id=principal.organization_id
    ):
        raise item_not_found(iri)
