"""The client read shape: `{id, name, website, createdAt, updatedAt}`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import msgspec

from service.web.iri import client_iri
from service.web.resource import timestamp

RESOURCE = "Client"
COLLECTION_IRI = "/api/clients"


class ClientView(msgspec.Struct, rename="camel"):
    """The read shape, for the OpenAPI document."""

    id: Annotated[str, msgspec.Meta(description="Client identifier (UUID)")]
    name: str
    website: str | None
    created_at: Annotated[datetime, msgspec.Meta(description="RFC 3339")]
    updated_at: Annotated[datetime | None, msgspec.Meta(description="RFC 3339; null until the first change")]


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
