"""`/api/webhook_endpoints`: shapes, validation, roles, tenancy, the secret shown once, URL rules."""

from __future__ import annotations

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.identity import Tenants
from tests.integration.webhooks_support import WebhookApi

HOOK = "https://hooks.dundermifflin.com/accounts"


async def test_create_shows_the_secret_once_and_stores_it_sealed(
    wh_api: WebhookApi, tenants: Tenants, db: asyncpg.Connection
) -> None:
    client = f"/api/clients/{tenants.a.client_ids[0]}"
    response = await wh_api.http.post(
        "/api/webhook_endpoints",
        json={"url": HOOK, "events": ["account.updated", "account.removed"], "clients": [client]},
        headers=wh_api.headers(tenants.a.owner, Accept="application/ld+json"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["@context"] == "/api/contexts/WebhookEndpoint"
    assert body["@type"] == "WebhookEndpoint"
    assert response.headers["location"] == body["@id"] == f"/api/webhook_endpoints/{body['id']}"
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["events"] == ["account.updated", "account.removed"]
    assert body["clients"] == [client]
    assert body["enabled"] is True and body["disabledReason"] is None
    shown = await wh_api.http.get(body["@id"], headers=wh_api.headers(tenants.a.viewer))
    assert shown.status_code == 200 and "secret" not in shown.json()
    listed = await wh_api.http.get("/api/webhook_endpoints", headers=wh_api.headers(tenants.a.owner))
    assert [e["id"] for e in listed.json()] == [body["id"]] and "secret" not in listed.json()[0]
    stored = await db.fetchrow("SELECT secret, secret_key_id FROM webhook_endpoints")
    assert body["secret"].encode() not in stored["secret"] and stored["secret_key_id"] == "test2"


async def test_validation(wh_api: WebhookApi, tenants: Tenants) -> None:
    owner = tenants.a.owner
    cases = [
        ({"events": ["*"]}, "url"),
        ({"url": HOOK, "events": []}, "events"),
        ({"url": HOOK, "events": ["account.deleted"]}, "events"),
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://user:pw@example.com/x", "events": ["*"]}, "url"),
        ({"url": HOOK, "events": ["*"], "clients": []}, "clients"),
        ({"url": HOOK, "events": ["*"], "description": "x" * 1025}, "description"),
    ]
    for body, path in cases:
        response = await wh_api.create(owner, **body)
        assert response.status_code == 422, (body, response.text)
        assert [v["propertyPath"] for v in response.json()["violations"]] == [path], body
    for body in [{"url": HOOK, "events": "*"}, {"url": HOOK, "events": ["*"], "secret": "whsec_x"}]:
        assert (await wh_api.create(owner, **body)).status_code == 400
    other = f"/api/clients/{tenants.b.client_ids[0]}"
    response = await wh_api.create(owner, url=HOOK, events=["*"], clients=[other])
    assert response.status_code == 400 and "Item not found" in response.json()["detail"]
    assert (await wh_api.create(owner, url=HOOK, events=["*"], clients=["nope"])).status_code == 400


async def test_roles_and_tenancy(wh_api: WebhookApi, tenants: Tenants) -> None:
    created = await wh_api.created(tenants.a.owner, url=HOOK, events=["*"])
    item = f"/api/webhook_endpoints/{created['id']}"
    for who in (tenants.a.customer, tenants.b.customer):
        assert (await wh_api.http.get(item, headers=wh_api.headers(who))).status_code == 403
        assert (await wh_api.create(who, url=HOOK, events=["*"])).status_code == 403
    viewer = wh_api.headers(tenants.a.viewer)
    assert (await wh_api.http.get(item, headers=viewer)).status_code == 200
    assert (await wh_api.create(tenants.a.viewer, url=HOOK, events=["*"])).status_code == 403
    assert (await wh_api.http.delete(item, headers=viewer)).status_code == 403
    # Another organization's endpoint does not exist for this one, whatever the operation.
    other = wh_api.headers(tenants.b.owner)
    for response in [
        await wh_api.http.get(item, headers=other),
        await wh_api.patch(tenants.b.owner, created["id"], {"enabled": False}),
        await wh_api.http.post(f"{item}/rotate_secret", headers=other),
        await wh_api.http.get(f"{item}/deliveries", headers=other),
        await wh_api.http.post(f"{item}/replay", json={"since": "2020-01-01T00:00:00Z"}, headers=other),
        await wh_api.http.delete(item, headers=other),
    ]:
        assert response.status_code == 404, response.text
    assert (await wh_api.http.get("/api/webhook_endpoints", headers=other)).json() == []
    # The API key acts as the owner.
    keyed = {"X-API-KEY": tenants.a.api_key, "Accept": "application/json"}
    assert (await wh_api.http.get(item, headers=keyed)).status_code == 200
    assert (await wh_api.http.delete(item, headers=keyed)).status_code == 204
    assert (await wh_api.http.get(item, headers=keyed)).status_code == 404


async def test_patch_and_rotate(wh_api: WebhookApi, tenants: Tenants) -> None:
    owner = tenants.a.owner
    created = await wh_api.created(owner, url=HOOK, events=["account.connected"], description="CRM")
    change = {"events": ["*"], "description": None, "enabled": False}
    response = await wh_api.patch(owner, created["id"], change)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["events"] == ["*"] and patched["description"] is None
    assert patched["enabled"] is False and patched["disabledReason"] == "Disabled through the API."
    enabled = (await wh_api.patch(owner, created["id"], {"enabled": True})).json()
    assert enabled["enabled"] is True and enabled["disabledReason"] is None
    assert (await wh_api.patch(owner, created["id"], {"url": "ftp://example.com"})).status_code == 422
    rotated = await wh_api.http.post(
        f"/api/webhook_endpoints/{created['id']}/rotate_secret", headers=wh_api.headers(owner)
    )
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != created["secret"]
    assert rotated.json()["previousSecretExpiresAt"] is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://0.0.0.0/hooks",
        "https://localhost/hooks",
        "https://printer.local/hooks",
        "https://metadata.google.internal/computeMetadata",
        "http://hooks.dundermifflin.com/plain-http",
    ],
)
async def test_private_and_plain_urls_are_refused_by_default(
    url: str, wh_settings: Settings, tenants: Tenants
) -> None:
    strict = msgspec.structs.replace(wh_settings, webhooks_allow_private_urls=False)
    async with AsyncTestClient(app=create_app(strict)) as http:
        api = WebhookApi(http, strict)
        response = await api.create(tenants.a.owner, url=url, events=["*"])
        assert response.status_code == 422, response.text
        assert response.json()["violations"][0]["propertyPath"] == "url"
        public = await api.create(tenants.a.owner, url="https://8.8.8.8/hooks", events=["*"])
        assert public.status_code == 201


async def test_development_setting_allows_local_http_receivers(wh_api: WebhookApi, tenants: Tenants) -> None:
    created = await wh_api.created(tenants.a.owner, url="http://localhost:9000/hooks", events=["*"])
    assert created["url"] == "http://localhost:9000/hooks"
