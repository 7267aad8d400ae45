"""The OpenAPI document describes the accounts and integrations routes as they behave."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.accounts_support import JSON, JSONLD, MERGE_PATCH

ITEM = "/api/accounts/{account_id}"
# The SPEC's REST table (plus 406 for Accept, 409/412 where they apply).
EXPECTED_STATUSES = {
    ("/api/accounts", "get"): {"200", "400", "401", "403", "406"},
    ("/api/accounts", "post"): {"201", "400", "401", "403", "406", "409", "415", "422"},
    (ITEM, "get"): {"200", "401", "403", "404", "406"},
    (ITEM, "patch"): {"200", "400", "401", "403", "404", "406", "409", "412", "415", "422"},
    (ITEM, "delete"): {"204", "401", "403", "404", "412"},
    (ITEM + "/credentials", "get"): {"200", "401", "403", "404", "406"},
    ("/api/integrations", "get"): {"200", "400", "401", "403", "406"},
    ("/api/integrations/{slug}", "get"): {"200", "401", "403", "404", "406"},
}


@pytest.fixture
async def document(client: AsyncTestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    response = await client.get("/api/docs/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        resolved: dict[str, Any] = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return resolved
    return schema


def test_every_operation_lists_its_statuses_and_security(document: dict[str, Any]) -> None:
    for (path, method), statuses in EXPECTED_STATUSES.items():
        operation = document["paths"][path][method]
        assert set(operation["responses"]) == statuses, (path, method)
        assert operation["security"] == [{"JWT": []}], (path, method)
        for status, response in operation["responses"].items():
            if status in ("401",):
                assert JSON in response["content"]
            elif status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (path, method, status)
    scheme = document["components"]["securitySchemes"]["JWT"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")


def test_bodies_are_documented_in_both_formats(document: dict[str, Any]) -> None:
    item = document["paths"][ITEM]["get"]["responses"]["200"]["content"]
    assert set(item) == {JSONLD, JSON}
    account = _resolve(document, item[JSON]["schema"])
    assert "credentials" not in account["properties"]
    assert {"id", "name", "status", "statusReason", "version", "createdAt"} <= set(account["properties"])
    linked = item[JSONLD]["schema"]["allOf"]
    assert linked[0] == item[JSON]["schema"]
    assert set(linked[1]["required"]) == {"@context", "@id", "@type"}
    collection = document["paths"]["/api/accounts"]["get"]["responses"]["200"]["content"]
    assert collection[JSON]["schema"]["type"] == "array"
    assert {"member", "totalItems", "view", "search"} <= set(collection[JSONLD]["schema"]["properties"])
    assert "ETag" in document["paths"][ITEM]["get"]["responses"]["200"]["headers"]
    created = document["paths"]["/api/accounts"]["post"]["responses"]["201"]
    assert {"ETag", "Location", "Idempotent-Replayed"} <= set(created["headers"])
    assert "Link" in document["paths"]["/api/accounts"]["get"]["responses"]["200"]["headers"]
    assert not document["paths"][ITEM]["delete"]["responses"]["204"].get("headers")


def test_request_bodies_show_what_is_accepted(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/accounts"]["post"]["requestBody"]
    # One media type (generators emit one body variant per type); JSON-LD bodies are accepted alike.
    post = body["content"]
    assert set(post) == {JSON} and body["required"] is True
    assert "ld+json" in body["description"]
    write = _resolve(document, post[JSON]["schema"])
    assert set(write["required"]) == {"name", "integration", "credentials"}
    assert write["properties"]["name"]["maxLength"] == 255
    assert {"id", "version", "provider", "createdAt"}.isdisjoint(write["properties"])
    patch = document["paths"][ITEM]["patch"]["requestBody"]["content"]
    assert list(patch) == [MERGE_PATCH]
    patch_schema = _resolve(document, patch[MERGE_PATCH]["schema"])
    assert {"client", "integration", "id"}.isdisjoint(patch_schema["properties"])
    assert {"status", "statusReason", "credentials", "settings"} <= set(patch_schema["properties"])


def test_parameters_the_handlers_read_themselves_are_documented(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/api/accounts"]["get"]["parameters"]
    collection = {p["name"] for p in parameters}
    filters = {"integration", "status", "provider", "client", "name"}
    assert {"page", "itemsPerPage", "cursor", "order[createdAt]", "order[name]"} | filters <= collection
    # `integration[]` works as `integration` does; listing both gives generators two equal names.
    assert not any(name.endswith("[]") for name in collection)
    repeatable = {p["name"] for p in parameters if p["schema"].get("type") == "array"}
    assert repeatable == {"integration", "status", "provider", "client"}
    post = {(p["name"], p["in"]) for p in document["paths"]["/api/accounts"]["post"]["parameters"]}
    assert ("Idempotency-Key", "header") in post
    for method in ("patch", "delete"):
        names = {(p["name"], p["in"]) for p in document["paths"][ITEM][method]["parameters"]}
        assert {("If-Match", "header"), ("account_id", "path")} <= names
