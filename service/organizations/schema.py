"""Organization request bodies and the read shape."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Annotated, Any

import msgspec

RESOURCE = "Organization"
PREFIX = "/api/organizations/"


class OrganizationPatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """A merge patch: absent keeps the list; a list replaces it whole (`[]` allows no origin)."""

    allowed_origins: list[str] | msgspec.UnsetType = msgspec.UNSET


class OrganizationView(msgspec.Struct, rename="camel"):
    """The read shape, for the OpenAPI document."""

    id: Annotated[str, msgspec.Meta(description="Organization identifier (UUID)")]
    name: str
    allowed_origins: Annotated[
        list[str],
        msgspec.Meta(description="Browser origins (scheme://host[:port]) allowed to call the API with CORS"),
    ]
    created_at: Annotated[str, msgspec.Meta(description="RFC 3339")]


def iri_of(row: Mapping[str, Any]) -> str:
    return f"{PREFIX}{row['id']}"


def fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "allowedOrigins": list(row["allowed_origins"]),
        "createdAt": row["created_at"].astimezone(UTC).isoformat(timespec="seconds"),
    }
