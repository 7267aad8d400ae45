"""The client read shape: `{id, name, website, createdAt, updatedAt}`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from service.clients.iri import client_iri

RESOURCE = "Client"
COLLECTION_IRI = "/api/clients"


class ClientView(msgspec.Struct, rename="camel"):
    """The read shape, for the OpenAPI document."""

    id: Annotated[str, msgspec.Meta(description="Client identifier (UUID)")]
    name: str
    website: str | None
    created_at: Annotated[datetime, msgspec.Meta(description="RFC 3339")]
    updated_at: Annotated[datetime | None, msgspec.Meta(description="RFC 3339; null until the first change")]


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a numeric offset and whole seconds, as API Platform writes dates."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "website": row["website"],
        "createdAt": timestamp(row["created_at"]),
        "updatedAt": timestamp(row["updated_at"]),
    }


def iri_of(row: Mapping[str, Any]) -> str:
    return client_iri(row["id"])
