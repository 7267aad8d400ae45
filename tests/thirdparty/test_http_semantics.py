"""HTTP as caches, proxies and careful clients use it, against the real server (uvicorn): HEAD wherever
GET is, conditional GET with If-None-Match, Vary on negotiated answers, compression and Allow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.accounts_support import MERGE_PATCH, new_account
from tests.thirdparty.conftest import Served

JSONLD = "application/ld+json"
# What a HEAD answer shares with the GET it stands for.
SAME_HEADERS = ("content-type", "content-length", "etag", "vary", "cache-control", "link", "allow")


@pytest.fixture(scope="module")
def http(served: Served) -> Any:
    # No automatic decoding: the tests look at the encodings themselves.
    with httpx.Client(
        base_url=served.base_url, timeout=10, headers={"Accept-Encoding": "identity"}
    ) as client:
        yield client


@pytest.fixture(scope="module")
def account(served: Served, http: httpx.Client) -> dict[str, Any]:
    response = http.post("/api/accounts", json=new_account(served.tenant), headers=served.owner())
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture(scope="module")
def delivery(served: Served, http: httpx.Client) -> dict[str, Any]:
    """A webhook endpoint, then an account whose creation the endpoint gets a delivery of."""
    body = {"url": "https://hooks.example.com/accounts", "events": ["*"]}
    endpoint = http.post("/api/webhook_endpoints", json=body, headers=served.owner())
    assert endpoint.status_code == 201, endpoint.text
    body = new_account(served.tenant, externalId="+15555550199")
    created = http.post("/api/accounts", json=body, headers=served.owner())
    assert created.status_code == 201, created.text
    listed = http.get(f"/api/webhook_endpoints/{endpoint.json()['id']}/deliveries", headers=served.owner())
    assert listed.status_code == 200, listed.text
    [member] = listed.json()["member"]
    return {"endpoint_id": endpoint.json()["id"], "delivery_id": member["id"]}


def get_paths(
    served: Served, http: httpx.Client, account: dict[str, Any], delivery: dict[str, Any]
) -> list[tuple[str, dict[str, str]]]:
    """Every GET path of the OpenAPI document with real identifiers, the discovery documents, and who
    may read each."""
    document = http.get("/api/docs/openapi.json").json()
    ids = {
        "account_id": account["id"],
        "client_id": str(served.tenant.client_ids[0]),
        "organization_id": str(served.tenant.organization_id),
        "slug": "whatsapp",
        **delivery,
    }
    paths = []
    for path, item in document["paths"].items():
        if "get" not in item:
            continue
        concrete = path.format(**ids)
        paths.append((concrete, served.worker() if concrete.endswith("/credentials") else served.owner()))
    discovery = ["/api", "/api/docs.jsonld", "/api/contexts/Account", "/api/contexts/Entrypoint"]
    return paths + [(path, {}) for path in discovery]


def test_head_answers_every_get_route_like_get_without_a_body(
    served: Served, http: httpx.Client, account: dict[str, Any], delivery: dict[str, Any]
) -> None:
    paths = get_paths(served, http, account, delivery)
    assert len(paths) >= 11
    for path, headers in paths:
        got = http.get(path, headers=headers)
        head = http.head(path, headers=headers)
        assert head.status_code == got.status_code == 200, (path, head.status_code, got.status_code)
        assert head.content == b"", path
        for name in SAME_HEADERS:
            if name == "etag" and path.startswith("/api/docs/"):
                continue
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    # Without credentials HEAD is refused as GET is; an unknown path is 404 for both.
    assert http.head("/api/accounts").status_code == 401
    assert http.head("/api/nothing-here", headers=served.owner()).status_code == 404


def test_if_none_match_answers_304_until_the_item_changes(
    served: Served, http: httpx.Client, account: dict[str, Any]
) -> None:
    path = f"/api/accounts/{account['id']}"
    first = http.get(path, headers=served.owner())
    etag = first.headers["etag"]
    for validator in (etag, etag.removeprefix("W/"), f'"nope", {etag}', "*"):
        again = http.get(path, headers=served.owner(**{"If-None-Match": validator}))
        assert again.status_code == 304, validator
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert "content-type" not in again.headers and "content-length" not in again.headers
        assert "Accept" in again.headers["vary"]
    head = http.head(path, headers=served.owner(**{"If-None-Match": etag}))
    assert head.status_code == 304
    assert http.get(path, headers=served.owner(**{"If-None-Match": '"0"'})).status_code == 200
    changed = http.patch(
        path,
        json={"name": "Renamed"},
        headers=served.owner(**{"Content-Type": MERGE_PATCH, "If-Match": etag}),
    )
    assert changed.status_code == 200
    stale = http.get(path, headers=served.owner(**{"If-None-Match": etag}))
    assert stale.status_code == 200 and stale.json()["name"] == "Renamed"
    # Only a successful read is revalidated: an unknown item stays 404.
    missing = http.get(f"{path[:-4]}0000", headers=served.owner(**{"If-None-Match": "*"}))
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/api/clients/{client}", "/api/integrations/whatsapp", "/api/docs.jsonld", "/api/contexts/Client"],
)
def test_other_items_and_the_documents_revalidate_by_content(
    served: Served, http: httpx.Client, path: str
) -> None:
    path = path.format(client=served.tenant.client_ids[0])
    first = http.get(path, headers=served.owner())
    assert first.status_code == 200
    again = http.get(path, headers=served.owner(**{"If-None-Match": first.headers["etag"]}))
    assert again.status_code == 304 and again.content == b""
    # Another representation (plain JSON) has another tag.
    if path.startswith(("/api/clients", "/api/integrations")):
        plain = http.get(path, headers=served.owner(Accept="application/json"))
        assert plain.headers["etag"] != first.headers["etag"]


def test_negotiated_answers_vary_on_accept(
    served: Served, http: httpx.Client, account: dict[str, Any]
) -> None:
    for path in ("/api/accounts", f"/api/accounts/{account['id']}", "/api/accounts/not-an-id"):
        for accept in (JSONLD, "application/json"):
            response = http.get(path, headers=served.owner(Accept=accept))
            assert "Accept" in [v.strip() for v in response.headers["vary"].split(",")], (path, accept)
    invalid = http.post("/api/accounts", json={"name": ""}, headers=served.owner())
    assert invalid.status_code == 422 and "Accept" in invalid.headers["vary"]


def test_large_bodies_are_compressed_with_brotli_or_gzip(served: Served, http: httpx.Client) -> None:
    identity = http.get("/api/docs.jsonld")
    assert "content-encoding" not in identity.headers
    size = len(identity.content)
    assert size > 4096
    brotli = http.get("/api/docs.jsonld", headers={"Accept-Encoding": "br, gzip"})
    assert brotli.headers["content-encoding"] == "br"
    assert "Accept-Encoding" in brotli.headers["vary"]
    assert int(brotli.headers["content-length"]) < size / 3
    gzip = http.get("/api/docs.jsonld", headers={"Accept-Encoding": "gzip"})
    assert gzip.headers["content-encoding"] == "gzip"
    # httpx decodes both to the same document.
    with httpx.Client(base_url=served.base_url) as decoding:
        assert decoding.get("/api/docs.jsonld", headers={"Accept-Encoding": "br"}).content == identity.content
    # A small answer is not worth it.
    small = http.get("/api/integrations/whatsapp", headers=served.owner(**{"Accept-Encoding": "br, gzip"}))
    assert "content-encoding" not in small.headers


def test_secrets_are_never_compressed(served: Served, http: httpx.Client, account: dict[str, Any]) -> None:
    """A compressed secret next to reflected input leaks through the size (BREACH)."""
    headers = served.worker(**{"Accept-Encoding": "br, gzip"})
    credentials = http.get(f"/api/accounts/{account['id']}/credentials", headers=headers)
    assert credentials.status_code == 200
    assert "content-encoding" not in credentials.headers
    login = http.post(
        "/authentication/login_check",
        json={"username": served.tenant.owner_username, "password": served.password + "x" * 2000},
        headers={"Accept-Encoding": "br, gzip"},
    )
    assert "content-encoding" not in login.headers


def test_allow_lists_head_with_get(served: Served, http: httpx.Client, account: dict[str, Any]) -> None:
    options = http.options(f"/api/accounts/{account['id']}")
    assert options.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
    refused = http.put("/api/integrations", headers=served.owner())
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD, OPTIONS"


def test_documentation_links_use_the_host_only_when_it_is_well_formed(
    served: Served, http: httpx.Client
) -> None:
    rel = 'rel="http://www.w3.org/ns/hydra/core#apiDocumentation"'
    named = http.get("/api", headers={"Host": "accounts.example.com:8443"})
    assert named.headers["link"] == f"<http://accounts.example.com:8443/api/docs.jsonld>; {rel}"
    assert named.json()["@context"] == "/api/contexts/Entrypoint"
    context = http.get("/api/contexts/Account", headers={"Host": "accounts.example.com:8443"}).json()
    assert context["@context"]["@vocab"] == "http://accounts.example.com:8443/api/docs.jsonld#"
    forged = http.get("/api", headers={"Host": 'evil.example>; rel="next", <x'})
    assert forged.headers["link"] == f"<{served.base_url}/api/docs.jsonld>; {rel}"


def test_every_api_answer_links_to_the_documentation_errors_included(
    served: Served, http: httpx.Client
) -> None:
    rel = 'rel="http://www.w3.org/ns/hydra/core#apiDocumentation"'
    answers = [
        http.get("/api/accounts"),  # 401 from the authentication layer
        http.get("/api/accounts/not-an-id", headers=served.owner()),  # 404
        http.get("/api/clients", headers=served.owner(Accept="text/html")),  # 406
        http.delete("/api/integrations", headers=served.owner()),  # 405
        http.get("/api/clients", headers=served.owner()),
    ]
    for response in answers:
        assert response.headers["link"].endswith(f"<{served.base_url}/api/docs.jsonld>; {rel}"), response
    assert "link" not in http.get("/healthz").headers
