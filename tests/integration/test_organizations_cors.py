"""Organizations' allowed browser origins (`/api/organizations/{id}`) and the CORS answers they drive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.identity import Tenants

Client = AsyncTestClient  # type: ignore[type-arg]
PATCH = {"Content-Type": "application/merge-patch+json"}
INBOX_A, INBOX_B = "https://inbox.acme.example", "http://127.0.0.1:5173"


def bearer(token_for: Callable[..., Any], principal: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(principal)}"}


async def allow(client: Client, tenants: Tenants, token_for: Any, org: str, origins: list[str]) -> Any:
    tenant = getattr(tenants, org)
    return await client.patch(
        f"/api/organizations/{tenant.organization_id}",
        json={"allowedOrigins": origins},
        headers=bearer(token_for, tenant.owner) | PATCH,
    )


async def test_owner_reads_and_sets_origins(client: Client, tenants: Tenants, token_for: Any) -> None:
    iri = f"/api/organizations/{tenants.a.organization_id}"
    shown = await client.get(iri, headers=bearer(token_for, tenants.a.owner))
    assert shown.status_code == 200
    body = shown.json()
    assert body["@context"] == "/api/contexts/Organization" and body["@id"] == iri
    assert body["@type"] == "Organization" and body["name"] == "acme" and body["allowedOrigins"] == []
    changed = await allow(
        client, tenants, token_for, "a", ["HTTPS://Inbox.Acme.example:443", "http://127.0.0.1:5173",
                                          "https://inbox.acme.example", "http://[::1]:8080"]
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["allowedOrigins"] == [INBOX_A, "http://127.0.0.1:5173", "http://[::1]:8080"]
    again = await client.get(iri, headers=bearer(token_for, tenants.a.owner))
    assert again.json()["allowedOrigins"][0] == INBOX_A
    by_key = await client.get(iri, headers={"X-API-KEY": tenants.a.api_key})
    assert by_key.status_code == 200


@pytest.mark.parametrize(
    "origin",
    ["*", "null", "https://*.acme.example", "https://acme.example/", "https://acme.example/inbox",
     "ftp://acme.example", "https://user@acme.example", "https://acme.example:0", "https://acme.example:65536",
     "https://acme.example?x=1", "acme.example", "https://-acme.example",
     "https://" + "a" * 300 + ".example"],
)  # fmt: skip
async def test_only_exact_origins_are_accepted(
    client: Client, tenants: Tenants, token_for: Any, origin: str
) -> None:
    refused = await allow(client, tenants, token_for, "a", [INBOX_A, origin])
    assert refused.status_code == 422, refused.text
    assert [v["propertyPath"] for v in refused.json()["violations"]] == ["allowedOrigins[1]"]


async def test_malformed_and_oversized_lists(client: Client, tenants: Tenants, token_for: Any) -> None:
    too_many = await allow(client, tenants, token_for, "a", [f"https://o{i}.example" for i in range(51)])
    assert too_many.status_code == 422
    assert too_many.json()["violations"][0]["propertyPath"] == "allowedOrigins"
    iri = f"/api/organizations/{tenants.a.organization_id}"
    owner = bearer(token_for, tenants.a.owner)
    for body in ({"allowedOrigins": "https://a.example"}, {"name": "renamed"}, {"allowedOrigins": [1]}):
        assert (await client.patch(iri, json=body, headers=owner | PATCH)).status_code == 400
    assert (await client.patch(iri, json={"allowedOrigins": []}, headers=owner)).status_code == 415
    nul = await client.patch(iri, json={"allowedOrigins": ["https://a.example\x00"]}, headers=owner | PATCH)
    assert nul.status_code == 400


async def test_owners_of_this_organization_only(client: Client, tenants: Tenants, token_for: Any) -> None:
    iri = f"/api/organizations/{tenants.a.organization_id}"
    assert (await client.get(iri, headers=bearer(token_for, tenants.b.owner))).status_code == 404
    assert (await client.get(iri, headers={"X-API-KEY": tenants.b.api_key})).status_code == 404
    for who in (tenants.a.viewer, tenants.a.customer):
        assert (await client.get(iri, headers=bearer(token_for, who))).status_code == 403
        assert (await client.patch(iri, json={}, headers=bearer(token_for, who) | PATCH)).status_code == 403
    assert (await client.get(iri)).status_code == 401


async def test_preflight_answers_for_an_origin_some_organization_allows(
    client: Client, tenants: Tenants, token_for: Any
) -> None:
    assert (await allow(client, tenants, token_for, "a", [INBOX_A])).status_code == 200
    asked = {
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type, if-match, idempotency-key",
    }
    preflight = await client.options("/api/accounts/x", headers={"Origin": INBOX_A} | asked)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == INBOX_A
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "if-match"} <= allowed
    assert "origin" in preflight.headers["vary"].lower()
    stranger = await client.options("/api/accounts", headers={"Origin": "https://evil.example"} | asked)
    assert not any(name.startswith("access-control-") for name in stranger.headers)


async def test_responses_carry_cors_only_for_the_callers_own_origins(
    client: Client, tenants: Tenants, token_for: Any
) -> None:
    await allow(client, tenants, token_for, "a", [INBOX_A])
    await allow(client, tenants, token_for, "b", [INBOX_B])
    customer_a = bearer(token_for, tenants.a.customer)
    own = await client.get("/api/accounts", headers=customer_a | {"Origin": INBOX_A})
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == INBOX_A
    exposed = {h.strip() for h in own.headers["access-control-expose-headers"].split(",")}
    assert {"ETag", "Location", "Link"} <= exposed
    assert "Origin" in own.headers["vary"]
    # A token of organization a used from organization b's page: answered, but the browser blocks it.
    crossed = await client.get("/api/accounts", headers=customer_a | {"Origin": INBOX_B})
    assert crossed.status_code == 200 and "access-control-allow-origin" not in crossed.headers
    stranger = await client.get("/api/accounts", headers=customer_a | {"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers
    # Answers without a caller hold no tenant's data: readable from any allowed origin.
    anonymous = await client.get("/api/accounts", headers={"Origin": INBOX_B})
    assert anonymous.status_code == 401 and anonymous.headers["access-control-allow-origin"] == INBOX_B
    plain = await client.get("/api/accounts", headers=customer_a)
    assert "access-control-allow-origin" not in plain.headers and "Origin" in plain.headers["vary"]


@pytest.fixture
async def fast_refresh_client(settings: Settings) -> AsyncIterator[Client]:
    quick = settings.__class__(**{**{f: getattr(settings, f) for f in settings.__struct_fields__},
                                  "cors_origins_refresh_seconds": 0.2})  # fmt: skip
    async with AsyncTestClient(app=create_app(quick)) as test_client:
        yield test_client


async def test_a_change_made_elsewhere_applies_after_a_reload(
    fast_refresh_client: Client, tenants: Tenants, db: asyncpg.Connection
) -> None:
    """Another process changed the list (here: the table itself); this one sees it by its next reload."""
    asked = {"Origin": INBOX_A, "Access-Control-Request-Method": "GET"}
    before = await fast_refresh_client.options("/api/accounts", headers=asked)
    assert "access-control-allow-origin" not in before.headers
    await db.execute(
        "UPDATE organizations SET allowed_origins = $2 WHERE id = $1", tenants.a.organization_id, [INBOX_A]
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = await fast_refresh_client.options("/api/accounts", headers=asked)
        if answer.headers.get("access-control-allow-origin") == INBOX_A:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the new origin was never allowed")
