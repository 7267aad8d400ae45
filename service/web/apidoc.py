"""The Hydra `ApiDocumentation` (`/api/docs.jsonld`), shaped as API Platform 4's DocumentationNormalizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.web.contexts import DOCS_PATH, ENTRYPOINT, HYDRA, PROPERTY_TERMS, entry_key, vocabulary
from service.web.linked_data import JSON_LITERAL, LinkedResource, Property

# The Hydra core terms the documentation uses, with their definitions in Hydra's own context.
_HYDRA_TERMS: dict[str, Any] = {
    "hydra": HYDRA,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "ApiDocumentation": "hydra:ApiDocumentation",
    "title": "hydra:title",
    "description": "hydra:description",
    "entrypoint": {"@id": "hydra:entrypoint", "@type": "@id"},
    "supportedClass": {"@id": "hydra:supportedClass", "@type": "@vocab"},
    "Class": "hydra:Class",
    "supportedProperty": {"@id": "hydra:supportedProperty", "@type": "@id"},
    "SupportedProperty": "hydra:SupportedProperty",
    **PROPERTY_TERMS,
    "readable": "hydra:readable",
    "writeable": "hydra:writeable",
    "supportedOperation": {"@id": "hydra:supportedOperation", "@type": "@id"},
    "Operation": "hydra:Operation",
    "method": "hydra:method",
    "expects": {"@id": "hydra:expects", "@type": "@vocab"},
    "returns": {"@id": "hydra:returns", "@type": "@vocab"},
    "expectsHeader": "hydra:expectsHeader",
    "headerName": "hydra:headerName",
    "possibleValue": "hydra:possibleValue",
    "Collection": "hydra:Collection",
    "Link": "hydra:Link",
    "memberAssertion": "hydra:memberAssertion",
    "object": {"@id": "hydra:object", "@type": "@vocab"},
    "label": "rdfs:label",
}
_FIND = ["Operation", "schema:FindAction"]


def _context(base_url: str) -> list[dict[str, Any]]:
    return [
        _HYDRA_TERMS,
        {
            "@vocab": vocabulary(base_url),
            "schema": "https://schema.org/",
            "domain": {"@id": "rdfs:domain", "@type": "@id"},
            "range": {"@id": "rdfs:range", "@type": "@id"},
            "subClassOf": {"@id": "rdfs:subClassOf", "@type": "@id"},
        },
    ]


def _supported_property(resource: LinkedResource, prop: Property) -> dict[str, Any]:
    name = resource.short_name
    described: dict[str, Any] = {
        "@id": prop.iri or f"#{name}/{prop.name}",
        "@type": "Link" if prop.link else "rdf:Property",
        "label": prop.name,
        "domain": f"#{name}",
    }
    if prop.link and not prop.listed:
        # A list of IRIs (e.g. a webhook endpoint's clients) is to-many: no cardinality bound.
        described["owl:maxCardinality"] = 1
    if prop.range is not None:
        described["range"] = "rdf:JSON" if prop.range == JSON_LITERAL else prop.range
    supported = {
        "@type": "SupportedProperty",
        "property": described,
        "title": prop.name,
        "required": prop.required,
        "readable": prop.readable,
        "writeable": prop.writeable,
    }
    if prop.description:
        supported["description"] = prop.description
    return supported


def _operation(resource: LinkedResource, method: str, *, collection: bool = False) -> dict[str, Any]:
    name = resource.short_name
    operation: dict[str, Any] = {"@type": _FIND}
    if method == "GET" and collection:
        operation["description"] = f"Retrieves the collection of {name} resources."
        operation["returns"] = "Collection"
    elif method == "GET":
        operation |= {"description": f"Retrieves a {name} resource.", "returns": name}
    elif method == "POST":
        operation = {"@type": ["Operation", "schema:CreateAction"], "expects": name, "returns": name}
        operation["description"] = f"Creates a {name} resource."
    elif method == "PATCH":
        accepted = {"headerName": "Content-Type", "possibleValue": [resource.update_media_type]}
        operation = {"@type": "Operation", "expects": name, "returns": name, "expectsHeader": [accepted]}
        operation["description"] = f"Updates the {name} resource."
    else:
        operation = {"@type": ["Operation", "schema:DeleteAction"], "returns": "owl:Nothing"}
        operation["description"] = f"Deletes the {name} resource."
    suffix = "Collection" if collection else ""
    operation |= {"method": method, "title": f"{method.lower()}{name}{suffix}"}
    return dict(sorted(operation.items()))


def _class(resource: LinkedResource) -> dict[str, Any]:
    methods = ["GET"]
    if resource.update is not None:
        methods.append("PATCH")
    if resource.deletable:
        methods.append("DELETE")
    return {
        "@id": f"#{resource.short_name}",
        "@type": "Class",
        "title": resource.short_name,
        "description": resource.description,
        "supportedProperty": [_supported_property(resource, prop) for prop in resource.properties()],
        "supportedOperation": [_operation(resource, method) for method in methods],
    }


def _collection_operations(resource: LinkedResource) -> list[dict[str, Any]]:
    operations = [_operation(resource, "GET", collection=True)]
    if resource.create is not None:
        operations.append(_operation(resource, "POST"))
    return operations


def _collection_class(resource: LinkedResource) -> dict[str, Any]:
    """A collection of the resource: a Hydra Collection whose members are all of the resource's class."""
    name = resource.short_name
    return {
        "@id": f"#{name}Collection",
        "@type": "Class",
        "subClassOf": "hydra:Collection",
        "title": f"{name}Collection",
        "description": f"A page of {name} resources, with its view and search template.",
        "memberAssertion": {"property": {"@id": "rdf:type"}, "object": {"@id": f"#{name}"}},
        "supportedOperation": _collection_operations(resource),
    }


def _entrypoint_property(resource: LinkedResource) -> dict[str, Any]:
    name, key = resource.short_name, entry_key(resource)
    members_are = {"owl:onProperty": {"@id": "hydra:member"}, "owl:allValuesFrom": {"@id": f"#{name}"}}
    return {
        "@type": "SupportedProperty",
        "property": {
            "@id": f"#{ENTRYPOINT}/{key}",
            "@type": "Link",
            "domain": f"#{ENTRYPOINT}",
            "owl:maxCardinality": 1,
            "range": ["hydra:Collection", {"owl:equivalentClass": members_are}],
            "memberAssertion": {"property": {"@id": "rdf:type"}, "object": {"@id": f"#{name}"}},
            "supportedOperation": _collection_operations(resource),
        },
        "title": f"get{name}Collection",
        "description": f"The collection of {name} resources",
        "readable": True,
        "writeable": False,
    }


def _entrypoint_class(resources: Sequence[LinkedResource]) -> dict[str, Any]:
    return {
        "@id": f"#{ENTRYPOINT}",
        "@type": "Class",
        "title": ENTRYPOINT,
        "supportedProperty": [_entrypoint_property(r) for r in resources if r.collection is not None],
        "supportedOperation": {
            "@type": "Operation",
            "method": "GET",
            "title": "index",
            "description": "The API Entrypoint.",
            "returns": ENTRYPOINT,
        },
    }


def documentation(
    base_url: str, resources: Sequence[LinkedResource], title: str, description: str
) -> dict[str, Any]:
    """Every registered resource as a class, a collection class for each collection, and the entrypoint."""
    classes = [_class(resource) for resource in resources]
    classes += [_collection_class(r) for r in resources if r.collection is not None]
    classes.append(_entrypoint_class(resources))
    return {
        "@context": _context(base_url),
        "@id": DOCS_PATH,
        "@type": "ApiDocumentation",
        "title": title,
        "description": description,
        "entrypoint": "/api",
        "supportedClass": classes,
    }
