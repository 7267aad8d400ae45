"""The integrations catalog: every integration, which accept accounts, and the credentials each needs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import JSON, Api, new_account


@pytest.fixture
def api(client: AsyncTestClient, token_for: Callable[..., str]) -> Api:  # type: ignore[type-arg]
    return Api(client, token_for)


WHATSAPP = {
    "id": "whatsapp",
    "name": "WhatsApp",
    "provider": "whatsapp",
    "type": "whatsapp",
    "available": True,
    "credentialFields": [
        {"name": "phoneNumberId", "label": "Phone number ID (WhatsApp Cloud API)", "secret": False},
        {"name": "accessToken", "label": "Access token", "secret": True},
        {"name": "businessAccountId", "label": "WhatsApp Business account ID (optional)", "secret": False},
    ],
    "requiredCredentials": [["phoneNumberId", "accessToken"]],
}


async def test_catalog_in_json_ld(api: Api, tenants: Tenants) -> None:
    response = await api.get(tenants.a.viewer, "/api/integrations")

    assert response.status_code == 200
    body = response.json()
    assert body["@context"] == "/api/contexts/Integration"
    assert body["@type"] == "Collection" and body["totalItems"] == 6
    slugs = ("whatsapp", "linkedin", "instagram", "telegram", "gmail", "outlook")
    assert [m["@id"] for m in body["member"]] == [f"/api/integrations/{slug}" for slug in slugs]
    assert body["member"][0] == {"@id": "/api/integrations/whatsapp", "@type": "Integration", **WHATSAPP}
    assert [m["available"] for m in body["member"]] == [True, False, False, False, False, False]
    linkedin = body["member"][1]
    assert linkedin["requiredCredentials"] == [["username", "password"], ["cookie"]]
    assert body["view"]["@id"] == "/api/integrations?page=1"


async def test_catalog_items_and_plain_json(api: Api, tenants: Tenants) -> None:
    for who in (tenants.a.owner, tenants.a.customer, WORKER):
        plain = await api.get(who, "/api/integrations", JSON)
        assert plain.status_code == 200 and len(plain.json()) == 6
    item = await api.get(tenants.a.customer, "/api/integrations/whatsapp")
    assert item.json() == {
        "@context": "/api/contexts/Integration",
        "@id": "/api/integrations/whatsapp",
        "@type": "Integration",
        **WHATSAPP,
    }
    assert (await api.get(tenants.a.owner, "/api/integrations/whatsapp", JSON)).json() == WHATSAPP
    missing = await api.get(tenants.a.owner, "/api/integrations/myspace")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    paged = await api.get(tenants.a.owner, "/api/integrations?itemsPerPage=4&page=2")
    assert [m["id"] for m in paged.json()["member"]] == ["gmail", "outlook"]
    assert (await api.get(tenants.a.owner, "/api/integrations?itemsPerPage=500")).status_code == 400


@pytest.fixture
async def linkedin_too(settings: Settings, token_for: Callable[..., str]) -> AsyncIterator[Api]:
    configured = msgspec.structs.replace(settings, integrations_available="whatsapp, linkedin")
    async with AsyncTestClient(app=create_app(configured)) as http:
        yield Api(http, token_for)


async def test_availability_is_configured(linkedin_too: Api, tenants: Tenants) -> None:
    catalog = (await linkedin_too.get(tenants.a.owner, "/api/integrations", JSON)).json()
    assert [i["id"] for i in catalog if i["available"]] == ["whatsapp", "linkedin"]

    body = new_account(
        tenants.a, integration="linkedin", externalId="urn:li:person:1", credentials={"cookie": "c"}
    )
    response = await linkedin_too.create(tenants.a.owner, body, JSON)

    assert response.status_code == 201
    account = response.json()
    assert (account["integration"], account["provider"], account["type"]) == (
        "/api/integrations/linkedin",
        "linkedin",
        "linkedin",
    )
    telegram = new_account(tenants.a, integration="telegram", credentials={"botToken": "t"})
    assert (await linkedin_too.create(tenants.a.owner, telegram)).status_code == 422
