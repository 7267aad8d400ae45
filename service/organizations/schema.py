"""Organization request bodies and the read shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import msgspec

from service.organizations.origins import MAX_ORIGIN_LENGTH, MAX_ORIGINS, ORIGIN_PATTERN
from service.web.resource import timestamp

RESOURCE = "Organization"
PREFIX = "/api/organizations/"


# Litestar (2.25) drops the constraints of a list's items from the document: the item schema is
# given whole, as an extra of the list.
_ORIGIN = {
    "type": "string",
    "maxLength": MAX_ORIGIN_LENGTH,
    "pattern": ORIGIN_PATTERN,
    "description": "An exact origin: scheme://host[:port], no path or wildcard",
}
Origins = Annotated[
    list[str], msgspec.Meta(max_length=MAX_ORIGINS, extra_json_schema={"extra": {"items": _ORIGIN}})
]


class OrganizationChange(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """The body of PATCH /api/organizations/{id} as documented: the rules below, stated as a schema."""

    allowed_origins: Origins | msgspec.UnsetType = msgspec.UNSET


class OrganizationPatch(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """A merge patch: absent keeps the list; a list replaces it whole (`[]` allows no origin)."""

    __openapi__: ClassVar[type] = OrganizationChange

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
        "createdAt": timestamp(row["created_at"]),
    }
