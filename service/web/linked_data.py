"""The registry of API resources behind the Hydra documentation and the JSON-LD contexts.

A resource package describes itself once (its read and write Structs, its operations, the resources its
fields link to); the contexts, the ApiDocumentation and the entrypoint are all derived from that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import msgspec.inspect as mi

# JSON-LD's own type for values that are kept as JSON (objects and lists of free-form data).
JSON_LITERAL = "@json"
_SCALARS: dict[type[mi.Type], str] = {
    mi.StrType: "xsd:string",
    mi.IntType: "xsd:integer",
    mi.FloatType: "xsd:decimal",
    mi.BoolType: "xsd:boolean",
    mi.LiteralType: "xsd:string",
    mi.DateTimeType: "xsd:dateTime",
    mi.UUIDType: "xsd:string",
}
_FORMATS = {"date-time": "xsd:dateTime", "uri": "xsd:anyURI"}
# The name of a thing, as schema.org says it: API Platform Admin labels references by this property.
SCHEMA_NAME = "https://schema.org/name"


@dataclass(frozen=True, slots=True)
class Property:
    """One property of a Hydra class, as `SupportedProperty` and as a context term describe it."""

    name: str
    range: str | None
    required: bool
    readable: bool
    writeable: bool
    description: str | None = None
    link: str | None = None
    listed: bool = False
    iri: str | None = None

    @property
    def literal(self) -> bool:
        """Objects and lists: kept whole as JSON literals, never read as linked data."""
        return self.range == JSON_LITERAL


@dataclass(frozen=True, slots=True)
class LinkedResource:
    """An API resource: `read` is its plain-JSON shape, `create`/`update` the bodies it accepts.

    `collection` is its collection IRI (None: no collection, e.g. a sub-resource); `links` maps a field
    holding another resource's IRI to that resource's short name; `iris` gives a field a well-known
    property IRI instead of the API's own term (API Platform's `ApiProperty(iris: …)`)."""

    short_name: str
    read: type[msgspec.Struct]
    description: str
    collection: str | None = None
    create: type[msgspec.Struct] | None = None
    update: type[msgspec.Struct] | None = None
    update_media_type: str = "application/merge-patch+json"
    deletable: bool = False
    links: Mapping[str, str] = field(default_factory=dict)
    iris: Mapping[str, str] = field(default_factory=dict)

    def properties(self) -> list[Property]:
        """Readable fields first (in the read shape's order), then write-only ones."""
        read = dict(_fields(self.read))
        created = dict(_fields(self.create)) if self.create else {}
        updated = dict(_fields(self.update)) if self.update else {}
        names = [*read, *(n for n in created if n not in read)]
        names += [n for n in updated if n not in read and n not in created]
        found = []
        for name in names:
            info = read.get(name) or created.get(name) or updated[name]
            link = self.links.get(name)
            found.append(
                Property(
                    name=name,
                    range=f"#{link}" if link else _range(info.type),
                    required=name in created and created[name].required,
                    readable=name in read,
                    writeable=name in created or name in updated,
                    description=_description(info.type),
                    link=link,
                    listed=isinstance(_unwrap(info.type)[0], mi.ListType),
                    iri=self.iris.get(name),
                )
            )
        return found


Shapes = tuple[type[msgspec.Struct], type[msgspec.Struct], type[msgspec.Struct]]


def editable(
    short_name: str,
    collection: str,
    description: str,
    shapes: Shapes,
    links: Mapping[str, str] | None = None,
    *,
    iris: Mapping[str, str] | None = None,
) -> LinkedResource:
    """A resource with a collection whose members callers create, patch and delete; `shapes` is
    (read, create, update)."""
    read, create, update = shapes
    return LinkedResource(
        short_name,
        read,
        description,
        collection,
        create,
        update,
        deletable=True,
        links=dict(links or {}),
        iris=dict(iris or {}),
    )


def documented(kind: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The shape a body is documented with: a decoding Struct may name a stricter twin in `__openapi__`."""
    twin = getattr(kind, "__openapi__", kind)
    assert isinstance(twin, type) and issubclass(twin, msgspec.Struct)
    return twin


def _fields(kind: type[msgspec.Struct]) -> Iterator[tuple[str, mi.Field]]:
    info = mi.type_info(documented(kind))
    assert isinstance(info, mi.StructType)
    for entry in info.fields:
        # JSON-LD keywords (@id, @type, …) are the document's own, not properties of the class.
        if not entry.encode_name.startswith("@"):
            yield entry.encode_name, entry


def _unwrap(kind: mi.Type) -> tuple[mi.Type, dict[str, Any]]:
    """The type without None and metadata, and the JSON schema extras the metadata carried."""
    extra: dict[str, Any] = {}
    while True:
        if isinstance(kind, mi.Metadata):
            extra |= kind.extra_json_schema or {}
            kind = kind.type
        elif isinstance(kind, mi.UnionType):
            rest = [t for t in kind.types if not isinstance(t, mi.NoneType)]
            if len(rest) != 1:
                return kind, extra
            kind = rest[0]
        else:
            return kind, extra


def _range(kind: mi.Type) -> str | None:
    bare, extra = _unwrap(kind)
    if isinstance(bare, (mi.DictType, mi.ListType, mi.StructType, mi.AnyType)):
        return JSON_LITERAL
    if (fmt := extra.get("format")) in _FORMATS:
        return _FORMATS[fmt]
    return _SCALARS.get(type(bare))


def _description(kind: mi.Type) -> str | None:
    description = _unwrap(kind)[1].get("description")
    return description if isinstance(description, str) else None
