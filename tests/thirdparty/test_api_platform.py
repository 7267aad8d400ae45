"""API Platform's own client library reads the service: `@api-platform/api-doc-parser` finds every
resource, field, operation and filter from the entrypoint, the Hydra documentation and the contexts."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.thirdparty.conftest import Served
from tests.thirdparty.node import run_node

FIELDS = {
    "accounts": {
        "id",
        "name",
        "headline",
        "avatar",
        "provider",
        "type",
        "integration",
        "externalId",
        "client",
        "status",
        "statusReason",
        "settings",
        "metadata",
        "version",
        "createdAt",
        "updatedAt",
        "credentials",
    },
    "clients": {"id", "name", "website", "createdAt", "updatedAt"},
    "integrations": {
        "id",
        "name",
        "provider",
        "type",
        "available",
        "credentialFields",
        "requiredCredentials",
    },
    "webhook_endpoints": {
        "id",
        "url",
        "description",
        "events",
        "clients",
        "enabled",
        "disabledReason",
        "disabledAt",
        "failingSince",
        "previousSecretExpiresAt",
        "createdAt",
        "updatedAt",
    },
}
CRUD = {("list", "GET"), ("create", "POST"), ("show", "GET"), ("edit", "PATCH"), ("delete", "DELETE")}
OPERATIONS = {
    "accounts": CRUD,
    "clients": CRUD,
    "integrations": {("list", "GET"), ("show", "GET")},
    "webhook_endpoints": CRUD,
}
FILTERS = {
    "accounts": {
        "integration",
        "integration[]",
        "provider",
        "provider[]",
        "status",
        "status[]",
        "client",
        "client[]",
        "name",
        "order[createdAt]",
        "order[name]",
    },
    "clients": {"name"},
    "integrations": set(),
    "webhook_endpoints": set(),
}


def by_name(parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {resource["name"]: resource for resource in parsed["resources"]}


def test_the_parser_finds_every_resource_field_and_operation_without_credentials(served: Served) -> None:
    """The entrypoint, documentation and contexts are public: the parser needs no token to read them."""
    parsed = run_node("hydra_parse.mjs", f"{served.base_url}/api")
    assert parsed["status"] == 200
    assert parsed["title"] == "Accounts API"
    resources = by_name(parsed)
    assert set(resources) == set(FIELDS)
    for name, resource in resources.items():
        assert resource["url"] == f"{served.base_url}/api/{name}"
        assert {field["name"] for field in resource["fields"]} == FIELDS[name], name
        assert {(op["type"], op["method"]) for op in resource["operations"]} == OPERATIONS[name], name
        # The collections themselves are not public: their search templates need a token.
        assert resource["parameters"] == {"status": 401}


def test_fields_carry_types_references_and_access(served: Served) -> None:
    resources = by_name(run_node("hydra_parse.mjs", f"{served.base_url}/api", served.owner_token))
    accounts = resources["accounts"]
    fields = {field["name"]: field for field in accounts["fields"]}
    assert fields["client"]["reference"] == "clients"
    assert fields["integration"]["reference"] == "integrations"
    assert fields["version"]["type"] == "integer"
    assert fields["createdAt"]["type"] == "dateTime"
    required = {name for name, field in fields.items() if field["required"]}
    assert required == {"name", "integration", "credentials"}
    assert "credentials" in accounts["writable"] and "credentials" not in accounts["readable"]
    assert "version" in accounts["readable"] and "version" not in accounts["writable"]
    assert fields["version"]["id"] == f"{served.base_url}/api/docs.jsonld#Account/version"
    # Names are schema.org's: API Platform Admin labels references (a client, an integration) by them.
    for resource in ("accounts", "clients", "integrations"):
        named = {field["name"]: field["id"] for field in resources[resource]["fields"]}
        assert named["name"] == "https://schema.org/name", resource
    integrations = {field["name"]: field for field in resources["integrations"]["fields"]}
    assert integrations["available"]["type"] == "boolean"
    assert resources["integrations"]["writable"] == []
    assert fields["client"]["maxCardinality"] == 1
    webhooks = {field["name"]: field for field in resources["webhook_endpoints"]["fields"]}
    # A list of client IRIs: a to-many reference.
    assert webhooks["clients"]["reference"] == "clients"
    assert webhooks["clients"]["maxCardinality"] is None
    assert webhooks["createdAt"]["type"] == webhooks["failingSince"]["type"] == "dateTime"
    assert webhooks["enabled"]["type"] == "boolean"
    assert {name for name, field in webhooks.items() if field["required"]} == {"url", "events"}
    assert "id" in resources["webhook_endpoints"]["readable"]
    assert "id" not in resources["webhook_endpoints"]["writable"]
    edit = next(op for op in accounts["operations"] if op["type"] == "edit")
    assert edit["expects"] == edit["returns"] == f"{served.base_url}/api/docs.jsonld#Account"


def test_with_a_token_the_parser_reads_every_filter(served: Served) -> None:
    resources = by_name(run_node("hydra_parse.mjs", f"{served.base_url}/api", served.owner_token))
    for name, resource in resources.items():
        assert {p["variable"] for p in resource["parameters"]} == FILTERS[name], name
    status = next(p for p in resources["accounts"]["parameters"] if p["variable"] == "status[]")
    assert status["range"] == "http://www.w3.org/2001/XMLSchema#string"
    assert status["required"] is False


OPENAPI_OPERATIONS = OPERATIONS | {"organizations": {("show", "GET"), ("edit", "PATCH")}}


def test_openapi_mode_finds_every_resource_with_its_operations_and_urls(served: Served) -> None:
    """api-doc-parser's OpenAPI mode reads the document rebased on the `/api` server: every resource
    at its real URL with its fields, references and list/show/create/edit/delete operations."""
    parsed = run_node("openapi_parse.mjs", f"{served.base_url}/api/docs/openapi.api.json")
    assert parsed["status"] == 200
    resources = by_name(parsed)
    assert set(resources) == set(OPENAPI_OPERATIONS)
    for name, resource in resources.items():
        assert resource["url"] == f"{served.base_url}/api/{name}"
        assert {(op["type"], op["method"]) for op in resource["operations"]} == OPENAPI_OPERATIONS[name], name
        if name in FIELDS:  # OpenAPI describes what is read: the write-only credentials are not there
            readable = {field["name"] for field in resource["fields"]}
            assert readable == FIELDS[name] - {"credentials"}, name
    accounts = {field["name"]: field for field in resources["accounts"]["fields"]}
    assert accounts["client"]["reference"] == "clients" and accounts["client"]["maxCardinality"] == 1
    assert accounts["integration"]["reference"] == "integrations"
    filters = set(resources["accounts"]["parameters"])
    assert {"page", "itemsPerPage", "integration", "status", "client", "name", "order[name]"} <= filters


def test_the_rebased_document_still_reaches_paths_outside_api(served: Served) -> None:
    """Login lives at /authentication/…: its path-level server is the root, and links still resolve."""
    url = f"{served.base_url}/api/docs/openapi.api.json"
    document = httpx.get(url).json()
    assert document["servers"] == [{"url": "/api"}]
    assert all(not path.startswith("/api/") for path in document["paths"])
    api = urljoin(url, document["servers"][0]["url"]) + "/"
    listed = httpx.get(urljoin(api, "accounts"), headers=served.owner())
    assert listed.status_code == 200, listed.text
    login = document["paths"]["/authentication/login_check"]
    root = urljoin(url, login["servers"][0]["url"])
    body = {"username": served.tenant.owner_username, "password": served.password}
    answer = httpx.post(urljoin(root, "authentication/login_check"), json=body)
    assert answer.status_code == 200 and answer.json()["token"], answer.text
    references = re.findall(r'"operationRef": ?"#/paths/([^"]+)"', json.dumps(document))
    assert references, "the document links its operations"
    for reference in references:
        path, method = reference.rsplit("/", 1)
        assert method in document["paths"][path.replace("~1", "/").replace("~0", "~")], reference
    # The main document keeps absolute paths under `/`, for generators that ignore path-level servers.
    main = httpx.get(f"{served.base_url}/api/docs/openapi.json").json()
    assert main["servers"] == [{"url": "/"}]
    assert {f"/api{path}" for path in document["paths"] if "servers" not in document["paths"][path]} | {
        path for path in document["paths"] if "servers" in document["paths"][path]
    } == set(main["paths"])
