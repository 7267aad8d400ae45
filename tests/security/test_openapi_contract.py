"""What fuzzing found between the OpenAPI document and the service, pinned: the document states what the
decoders refuse and the bounds they enforce, its links resolve, and OPTIONS answers for every path."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.identity import Tenants

Client = AsyncTestClient  # type: ignore[type-arg]
METHODS = {"get", "post", "put", "patch", "delete"}
# Bodies decoded with unknown fields refused; login and refresh ignore extra keys, as LexikJWT does.
STRICT_BODIES = {
    ("/api/accounts", "post"),
    ("/api/accounts/{account_id}", "patch"),
    ("/api/clients", "post"),
    ("/api/clients/{client_id}", "patch"),
    ("/api/tokens", "post"),
    ("/api/organizations/{organization_id}", "patch"),
    ("/api/webhook_endpoints", "post"),
    ("/api/webhook_endpoints/{endpoint_id}", "patch"),
    ("/api/webhook_endpoints/{endpoint_id}/replay", "post"),
}


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/api/docs/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in schema:
        return schema
    resolved: dict[str, Any] = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return resolved


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _concrete(path: str) -> str:
    """The path with its parameters filled in (a slug, else a UUID no row has)."""
    return re.sub(r"\{[^}]+\}", lambda m: "whatsapp" if m[0] == "{slug}" else str(uuid.UUID(int=0)), path)


def test_bodies_that_refuse_unknown_fields_say_so(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        if "requestBody" not in operation:
            continue
        for content in operation["requestBody"]["content"].values():
            schema = _resolve(document, content["schema"])
            strict = schema.get("additionalProperties") is False
            assert strict == ((path, method) in STRICT_BODIES), (path, method)


def test_login_documents_both_keys_as_required_strings(document: dict[str, Any]) -> None:
    body = document["paths"]["/authentication/login_check"]["post"]["requestBody"]["content"]
    schema = _resolve(document, body["application/json"]["schema"])
    assert set(schema["required"]) == {"username", "password"}
    assert all(schema["properties"][key] == {"type": "string"} for key in ("username", "password"))


async def test_documented_integer_bounds_are_the_enforced_ones(
    client: Client, document: dict[str, Any], tenants: Tenants, token_for: Callable[..., str]
) -> None:
    owner = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
    # Collections below an item (a webhook endpoint's deliveries) are asked of a real item.
    hook = {"url": "https://hooks.example.com/x", "events": ["*"]}
    endpoint = (await client.post("/api/webhook_endpoints", json=hook, headers=owner)).json()["id"]
    checked = 0
    for template, method, operation in _operations(document):
        path = template.replace("{endpoint_id}", endpoint)
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            if parameter["in"] != "query" or schema.get("type") != "integer":
                continue
            name = parameter["name"]
            for value, allowed in [
                (schema["minimum"], True),
                (schema["minimum"] - 1, False),
                (schema["maximum"], True),
                (schema["maximum"] + 1, False),
            ]:
                # A page number is bounded with the smallest page size (accounts: page x itemsPerPage).
                params = {name: value} | ({"itemsPerPage": 1} if name == "page" else {})
                response = await client.request(method, path, params=params, headers=owner)
                assert (response.status_code == 200) is allowed, (path, name, value, response.text)
            checked += 1
    # page and itemsPerPage of accounts, clients, integrations, webhook endpoints and their deliveries
    assert checked == 10


def test_links_of_created_items_point_at_documented_operations(document: dict[str, Any]) -> None:
    linked = 0
    for path, method, operation in _operations(document):
        for link in operation["responses"].get("201", {}).get("links", {}).values():
            pointer = link["operationRef"].removeprefix("#/paths/")
            target_path, target_method = pointer.rsplit("/", 1)
            target_path = target_path.replace("~1", "/").replace("~0", "~")
            target = document["paths"][target_path][target_method]
            names = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
            assert set(link["parameters"]) == names, (path, method, link)
            linked += 1
    assert linked == 13


async def test_options_needs_no_credentials(client: Client, document: dict[str, Any]) -> None:
    for path in document["paths"]:
        response = await client.options(_concrete(path))
        assert response.status_code == 204, path


async def test_options_lists_every_method_of_the_path(client: Client, document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        response = await client.options(_concrete(path))
        allowed = {method.strip() for method in response.headers["allow"].split(",")}
        documented = {method.upper() for method in item if method in METHODS}
        # Every GET path answers HEAD as well (without a body).
        head = {"HEAD"} if "GET" in documented else set()
        assert allowed == documented | head | {"OPTIONS"}, path
