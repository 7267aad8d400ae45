"""Client IRIs (`/api/clients/{id}`), as other resources reference a client in their bodies."""

from __future__ import annotations

import uuid

from service.errors import BadRequest

PREFIX = "/api/clients/"
# How the document describes a client IRI: the prefix and a UUID in its canonical form.
CLIENT_IRI_PATTERN = (
    "^/api/clients/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def client_iri(client_id: uuid.UUID) -> str:
    return f"{PREFIX}{client_id}"


def parse_client_iri(value: str) -> uuid.UUID:
    """The client id an IRI names; anything that is not a client IRI is API Platform's 400."""
    if value.startswith(PREFIX):
        try:
            return uuid.UUID(value.removeprefix(PREFIX))
        except ValueError:
            pass
    raise BadRequest(f'Invalid IRI "{value}".')


def client_id_of(value: str) -> uuid.UUID | None:
    """The client id of a filter value, an IRI or a bare id; None when it names no client."""
    try:
        return uuid.UUID(value.removeprefix(PREFIX))
    except ValueError:
        return None


def item_not_found(value: str) -> BadRequest:
    """A well-formed IRI of a client the caller cannot see (missing or another organization's)."""
    return BadRequest(f'Item not found for "{value}".')
