"""A JSON-LD processor (pyld) reads every kind of document the service answers with: each key expands to
an IRI through the served contexts, and compacting the expansion again gives back the document."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from pyld import jsonld

from tests.integration.accounts_support import MERGE_PATCH, new_account
from tests.thirdparty.conftest import Served

JSONLD = "application/ld+json"
# Keys whose values are IRIs (typed @id in the contexts): compaction without a base gives them absolute.
IRI_KEYS = {
    "@context",
    "@id",
    "account",
    "client",
    "integration",
    "webhookEndpoint",
    "first",
    "last",
    "previous",
    "next",
}


def loader_for(served: Served) -> Any:
    """pyld's document loader, fetching contexts from the running service only (no credentials)."""

    def load(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        assert url.startswith(served.base_url), url
        response = httpx.get(url, headers={"Accept": JSONLD}, timeout=10)
        assert response.status_code == 200, (url, response.text)
        assert response.headers["content-type"].startswith(JSONLD)
        return {"contentType": JSONLD, "contextUrl": None, "documentUrl": url, "document": response.json()}

    return load


def absolute(document: Any, base: str) -> Any:
    """The document with every IRI-typed value resolved against `base`, as a processor sees it."""
    if isinstance(document, list):
        return [absolute(item, base) for item in document]
    if not isinstance(document, dict):
        return document
    return {
        key: urljoin(base, value) if key in IRI_KEYS and isinstance(value, str) else absolute(value, base)
        for key, value in document.items()
    }


def assert_keys_are_iris(expanded: Any) -> None:
    if isinstance(expanded, list):
        for item in expanded:
            assert_keys_are_iris(item)
    elif isinstance(expanded, dict):
        if expanded.get("@type") == "@json":
            return
        for key, value in expanded.items():
            assert key.startswith(("@", "http://", "https://")), f"{key} was not mapped to an IRI"
            assert_keys_are_iris(value)


def round_trip(served: Served, url: str, document: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand, check, compact with the document's own context; nothing may be lost on the way."""
    options = {"base": url, "documentLoader": loader_for(served)}
    expanded = jsonld.expand(document, options)
    assert_keys_are_iris(expanded)
    compacted = jsonld.compact(
        expanded,
        {"@context": urljoin(url, document["@context"])},
        {"documentLoader": loader_for(served)},
    )
    assert absolute(compacted, url) == absolute(document, url)
    return expanded  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def accounts(served: Served) -> list[dict[str, Any]]:
    """Two accounts with every field filled (JSON-LD has no null: a null value is no statement at all)."""
    made = []
    with httpx.Client(base_url=served.base_url, timeout=10) as http:
        for number in ("+15555550101", "+15555550102"):
            body = new_account(served.tenant, externalId=number, metadata={"crm": {"id": 7, "tags": ["a"]}})
            created = http.post("/api/accounts", json=body, headers=served.owner(Accept="application/json"))
            assert created.status_code == 201, created.text
            reported = http.patch(
                created.headers["location"],
                json={"status": "connected", "statusReason": "webhook verified"},
                headers=served.worker(**{"Content-Type": MERGE_PATCH}),
            )
            assert reported.status_code == 200, reported.text
            made.append(reported.json())
    return made


def test_an_item_expands_and_compacts_without_loss(served: Served, accounts: list[dict[str, Any]]) -> None:
    url = f"{served.base_url}/api/accounts/{accounts[0]['id']}"
    document = httpx.get(url, headers=served.owner(Accept=JSONLD)).json()
    assert None not in document.values()
    [node] = round_trip(served, url, document)
    vocab = f"{served.base_url}/api/docs.jsonld#"
    assert node["@type"] == [f"{vocab}Account"]
    assert node[f"{vocab}Account/client"] == [{"@id": f"{served.base_url}{document['client']}"}]
    metadata = {"crm": {"id": 7, "tags": ["a"]}}
    assert node[f"{vocab}Account/metadata"] == [{"@value": metadata, "@type": "@json"}]


def test_a_collection_page_with_its_view_and_search_expands_into_hydra(
    served: Served, accounts: list[dict[str, Any]]
) -> None:
    url = f"{served.base_url}/api/accounts?itemsPerPage=1&order[name]=asc"
    document = httpx.get(url, headers=served.owner(Accept=JSONLD)).json()
    assert {"member", "totalItems", "view", "search"} <= set(document)
    assert "next" in document["view"]
    [node] = round_trip(served, url, document)
    hydra = "http://www.w3.org/ns/hydra/core#"
    assert node["@type"] == [f"{hydra}Collection"]
    assert node[f"{hydra}totalItems"] == [{"@value": 2}]
    [view] = node[f"{hydra}view"]
    assert view[f"{hydra}next"] == [{"@id": urljoin(url, document["view"]["next"])}]
    [search] = node[f"{hydra}search"]
    properties = {m[f"{hydra}property"][0]["@id"] for m in search[f"{hydra}mapping"]}
    assert f"{served.base_url}/api/docs.jsonld#Account/integration" in properties


@pytest.mark.parametrize("kind", ["Error", "ConstraintViolation"])
def test_errors_expand_and_compact_without_loss(served: Served, kind: str) -> None:
    if kind == "Error":
        url = f"{served.base_url}/api/accounts/{uuid.uuid4()}"
        response = httpx.get(url, headers=served.owner(Accept=JSONLD))
        assert response.status_code == 404
    else:
        url = f"{served.base_url}/api/accounts"
        body = new_account(served.tenant, name="")
        response = httpx.post(url, json=body, headers=served.owner(Accept=JSONLD))
        assert response.status_code == 422
    document = response.json()
    assert document["@context"] == f"/api/contexts/{kind}"
    [node] = round_trip(served, url, document)
    assert node["@type"] == [f"{served.base_url}/api/docs.jsonld#{kind}"]


def test_every_context_and_the_documentation_are_public_cacheable_json_ld(served: Served) -> None:
    entrypoint = httpx.get(f"{served.base_url}/api")
    assert entrypoint.status_code == 200
    document = entrypoint.json()
    assert document == {
        "@context": "/api/contexts/Entrypoint",
        "@id": "/api",
        "@type": "Entrypoint",
        "account": "/api/accounts",
        "client": "/api/clients",
        "integration": "/api/integrations",
        "webhookEndpoint": "/api/webhook_endpoints",
    }
    round_trip(served, f"{served.base_url}/api", document)
    names = (
        "Entrypoint",
        "Account",
        "AccountCredentials",
        "Client",
        "Integration",
        "WebhookEndpoint",
        "WebhookDelivery",
        "Error",
        "ConstraintViolation",
    )
    for name in names:
        response = httpx.get(f"{served.base_url}/api/contexts/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(JSONLD)
        assert "public" in response.headers["cache-control"]
        context = response.json()["@context"]
        assert context["@vocab"] == f"{served.base_url}/api/docs.jsonld#"
        assert context["hydra"] == "http://www.w3.org/ns/hydra/core#"
    assert httpx.get(f"{served.base_url}/api/contexts/Nothing").status_code == 404
    docs = f"{served.base_url}/api/docs.jsonld"
    expanded = jsonld.expand(httpx.get(docs).json(), {"base": docs, "documentLoader": loader_for(served)})
    assert expanded[0]["@type"] == ["http://www.w3.org/ns/hydra/core#ApiDocumentation"]
