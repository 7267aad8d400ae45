"""JSON-LD / Hydra documents in API Platform 4's shape (no `hydra:` prefix), and their plain-JSON twins."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from litestar import Response

from service.web.encoded import Encoded
from service.web.formats import Format

_encode = msgspec.json.Encoder().encode


def item(fmt: Format, resource: str, iri: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """One resource: JSON-LD adds `@context`, `@id` and `@type` in front of its fields."""
    if not fmt.linked:
        return dict(fields)
    return {"@context": f"/api/contexts/{resource}", "@id": iri, "@type": resource, **fields}


def member(fmt: Format, resource: str, iri: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A resource inside a collection: JSON-LD keys without the context, which the collection carries."""
    if not fmt.linked:
        return dict(fields)
    return {"@id": iri, "@type": resource, **fields}


def collection(
    fmt: Format,
    resource: str,
    iri: str,
    members: Sequence[Mapping[str, Any]],
    *,
    total: int | None,
    view: Mapping[str, Any],
    search: Mapping[str, Any] | None = None,
) -> Any:
    """A collection: a Hydra `Collection` in JSON-LD, a bare array in plain JSON."""
    if not fmt.linked:
        return list(members)
    document: dict[str, Any] = {"@context": f"/api/contexts/{resource}", "@id": iri, "@type": "Collection"}
    if total is not None:
        document["totalItems"] = total
    document["member"] = list(members)
    document["view"] = dict(view)
    if search is not None:
        document["search"] = dict(search)
    return document


def search_template(iri: str, variables: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The `search` IriTemplate that lists the filters a collection accepts, as (variable, property)."""
    return {
        "@type": "IriTemplate",
        "template": f"{iri}{{?{','.join(name for name, _ in variables)}}}",
        "variableRepresentation": "BasicRepresentation",
        "mapping": [
            {"@type": "IriTemplateMapping", "variable": name, "property": prop, "required": False}
            for name, prop in variables
        ],
    }


def respond(
    fmt: Format,
    document: Any,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    tagged: bool = False,
) -> Response[bytes]:
    """Encode once with msgspec and label the body with the negotiated media type (which depends on
    Accept); `tagged` adds an ETag of the content, for items without a version of their own."""
    body = _encode(document)
    answer = {"Vary": "Accept", **(headers or {})}
    if tagged:
        answer.setdefault("ETag", f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"')
    return Encoded(body, status_code=status, media_type=f"{fmt.value}; charset=utf-8", headers=answer)
