"""JSON-LD contexts of every `@context` the service emits, as API Platform 4 builds them (no prefix)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.web.linked_data import LinkedResource

HYDRA = "http://www.w3.org/ns/hydra/core#"
DOCS_PATH = "/api/docs.jsonld"
CONTEXTS_PATH = "/api/contexts/"
ENTRYPOINT = "Entrypoint"

_ID = {"@type": "@id"}
# Hydra's terms naming a property and whether it is required: in search mappings and in the docs.
PROPERTY_TERMS: dict[str, Any] = {
    "property": {"@id": "hydra:property", "@type": "@vocab"},
    "required": "hydra:required",
}
# Hydra's terms for what collections carry (member, view, search), so that they expand into Hydra's
# vocabulary rather than the API's; lists stay lists when a document is compacted again.
COLLECTION_TERMS: dict[str, Any] = {
    "Collection": "hydra:Collection",
    "PartialCollectionView": "hydra:PartialCollectionView",
    "IriTemplate": "hydra:IriTemplate",
    "IriTemplateMapping": "hydra:IriTemplateMapping",
    "BasicRepresentation": "hydra:BasicRepresentation",
    "member": {"@id": "hydra:member", "@type": "@id", "@container": "@set"},
    "totalItems": "hydra:totalItems",
    "view": {"@id": "hydra:view", "@type": "@id"},
    "first": {"@id": "hydra:first", **_ID},
    "last": {"@id": "hydra:last", **_ID},
    "previous": {"@id": "hydra:previous", **_ID},
    "next": {"@id": "hydra:next", **_ID},
    "search": "hydra:search",
    "template": "hydra:template",
    "variableRepresentation": {"@id": "hydra:variableRepresentation", "@type": "@vocab"},
    "mapping": {"@id": "hydra:mapping", "@container": "@set"},
    "variable": "hydra:variable",
    **PROPERTY_TERMS,
}


def vocabulary(base_url: str) -> str:
    """The API's own vocabulary: terms are fragments of the ApiDocumentation."""
    return f"{base_url}{DOCS_PATH}#"


def base_context(base_url: str) -> dict[str, Any]:
    return {"@vocab": vocabulary(base_url), "hydra": HYDRA}


def entry_key(resource: LinkedResource) -> str:
    """The entrypoint's key of a collection: the short name, first letter lowered."""
    name = resource.short_name
    return name[:1].lower() + name[1:]


def entrypoint_context(base_url: str, resources: Sequence[LinkedResource]) -> dict[str, Any]:
    context = base_context(base_url)
    for resource in resources:
        if resource.collection is not None:
            key = entry_key(resource)
            context[key] = {"@id": f"{ENTRYPOINT}/{key}", **_ID}
    return context


def resource_context(base_url: str, resource: LinkedResource) -> dict[str, Any]:
    """Every property as `ShortName/property`; links typed `@id`, objects and lists kept as JSON."""
    context = base_context(base_url) | COLLECTION_TERMS
    for prop in resource.properties():
        term = prop.iri or f"{resource.short_name}/{prop.name}"
        if prop.link is not None:
            context[prop.name] = {"@id": term, **_ID}
        elif prop.literal:
            # A list literal is a set of one value: compaction would otherwise unwrap a list of one.
            listed = {"@container": "@set"} if prop.listed else {}
            context[prop.name] = {"@id": term, "@type": "@json", **listed}
        else:
            context[prop.name] = term
    return context


def context_document(base_url: str, name: str, resources: Sequence[LinkedResource]) -> dict[str, Any] | None:
    """The document served at `/api/contexts/{name}`, or None when no such context exists."""
    if name == ENTRYPOINT:
        return {"@context": entrypoint_context(base_url, resources)}
    for resource in resources:
        if resource.short_name == name:
            return {"@context": resource_context(base_url, resource)}
    return None
