"""The registry behind the Hydra documents: a resource registered once appears everywhere it must."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from service.web.apidoc import documentation
from service.web.contexts import context_document
from service.web.linked_data import LinkedResource

BASE = "https://accounts.example.com"


class Endpoint(msgspec.Struct, rename="camel"):
    id: str
    url: Annotated[str, msgspec.Meta(description="Where deliveries go")]
    events: list[str]
    organization: str
    enabled: bool
    created_at: datetime


class EndpointWrite(msgspec.Struct, rename="camel"):
    url: str
    events: list[str]
    enabled: bool = True
    secret_hint: str | None = None


ENDPOINT = LinkedResource(
    "WebhookEndpoint",
    read=Endpoint,
    description="Where events are delivered.",
    collection="/api/webhook_endpoints",
    create=EndpointWrite,
    deletable=True,
    links={"organization": "Organization"},
)


def test_properties_come_from_the_structs() -> None:
    found = {prop.name: prop for prop in ENDPOINT.properties()}
    assert list(found) == ["id", "url", "events", "organization", "enabled", "createdAt", "secretHint"]
    assert found["url"].range == "xsd:string" and found["url"].description == "Where deliveries go"
    assert found["url"].required and found["url"].readable and found["url"].writeable
    assert found["createdAt"].range == "xsd:dateTime" and not found["createdAt"].writeable
    assert found["secretHint"].readable is False and found["secretHint"].writeable
    assert found["events"].literal and found["events"].listed
    assert found["organization"].link == "Organization" and found["organization"].range == "#Organization"


def test_a_registered_resource_is_in_the_entrypoint_its_context_and_the_documentation() -> None:
    entrypoint = context_document(BASE, "Entrypoint", [ENDPOINT])
    assert entrypoint is not None
    assert entrypoint["@context"]["webhookEndpoint"] == {"@id": "Entrypoint/webhookEndpoint", "@type": "@id"}
    context = context_document(BASE, "WebhookEndpoint", [ENDPOINT])
    assert context is not None
    terms = context["@context"]
    assert terms["@vocab"] == f"{BASE}/api/docs.jsonld#"
    assert terms["organization"] == {"@id": "WebhookEndpoint/organization", "@type": "@id"}
    assert terms["events"] == {"@id": "WebhookEndpoint/events", "@type": "@json", "@container": "@set"}
    assert context_document(BASE, "Nothing", [ENDPOINT]) is None

    docs = documentation(BASE, [ENDPOINT], "T", "D")
    classes = {item["@id"]: item for item in docs["supportedClass"]}
    assert set(classes) == {"#WebhookEndpoint", "#WebhookEndpointCollection", "#Entrypoint"}
    item = classes["#WebhookEndpoint"]
    assert [(op["method"], op["title"]) for op in item["supportedOperation"]] == [
        ("GET", "getWebhookEndpoint"),
        ("DELETE", "deleteWebhookEndpoint"),
    ]
    [entry] = classes["#Entrypoint"]["supportedProperty"]
    operations = entry["property"]["supportedOperation"]
    assert [(op["method"], op["returns"]) for op in operations] == [
        ("GET", "Collection"),
        ("POST", "WebhookEndpoint"),
    ]
    organization = next(p for p in item["supportedProperty"] if p["title"] == "organization")
    assert (
        organization["property"]["@type"] == "Link" and organization["property"]["range"] == "#Organization"
    )
