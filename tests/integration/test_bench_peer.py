"""The bench's FastAPI peer answers like the service: same item document, same tenant check, a POST that
writes the account with its sealed credentials and its outbox event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from bench.peer.app import app
from bench.peer.config import get_config
from service.crypto import CredentialCipher, Sealed
from service.settings import Settings
from tests.identity import Tenants
from tests.integration.accounts_support import CANARY, JSONLD, Api, new_account, outbox


@pytest.fixture
async def peer(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """The peer app with its lifespan running, configured from the same settings as the service."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("JWT_PRIVATE_KEY", settings.jwt_private_key)
    monkeypatch.setenv("CREDENTIALS_KEYS", settings.credentials_keys)
    get_config.cache_clear()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://peer") as http:
                yield http
    finally:
        get_config.cache_clear()


def _headers(api: Api, who: Any) -> dict[str, str]:
    return api.headers(who, JSONLD)


async def test_the_peer_shows_an_account_as_the_service_does(
    api: Api, peer: httpx.AsyncClient, tenants: Tenants
) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{created['id']}"
    mine = await api.get(tenants.a.owner, path)
    theirs = await peer.get(path, headers=_headers(api, tenants.a.owner))
    assert theirs.status_code == 200, theirs.text
    assert theirs.json() == mine.json()
    assert theirs.headers["etag"] == mine.headers["etag"]
    assert theirs.headers["content-type"].startswith(JSONLD)
    # Another organization's owner, no token, a malformed id: as the service answers.
    other = await peer.get(path, headers=_headers(api, tenants.b.owner))
    assert other.status_code == 404
    assert (await peer.get(path)).status_code == 401
    assert (await peer.get("/api/accounts/nope", headers=_headers(api, tenants.a.owner))).status_code == 404


async def test_the_peer_creates_an_account_with_sealed_credentials_and_its_event(
    api: Api, peer: httpx.AsyncClient, tenants: Tenants, db: asyncpg.Connection, settings: Settings
) -> None:
    body = new_account(tenants.a)
    response = await peer.post("/api/accounts", json=body, headers=_headers(api, tenants.a.owner))
    assert response.status_code == 201, response.text
    document = response.json()
    assert response.headers["location"] == document["@id"] == f"/api/accounts/{document['id']}"
    # The service shows the peer's account exactly as the peer answered.
    shown = await api.get(tenants.a.owner, document["@id"])
    assert shown.json() == document
    assert CANARY not in response.text
    row = await db.fetchrow(
        "SELECT credentials, credentials_key_id FROM accounts WHERE id = $1::uuid", document["id"]
    )
    opened = CredentialCipher.from_text(settings.credentials_keys).open(
        uuid.UUID(document["id"]),
        Sealed(row["credentials"], row["credentials_key_id"]),
    )
    assert opened == body["credentials"]
    (event,) = await outbox(db, document["id"])
    assert event["event_type"] == "account.connected"
    assert event["account_version"] == 1
    assert event["payload"] == {k: v for k, v in document.items() if not k.startswith("@")}


async def test_the_peer_refuses_what_the_service_refuses(
    api: Api, peer: httpx.AsyncClient, tenants: Tenants, db: asyncpg.Connection
) -> None:
    bad = [
        new_account(tenants.a, credentials={"phoneNumberId": "1"}),
        new_account(tenants.a, name="  "),
        new_account(tenants.a, avatar="http://example.com/a.png"),
        new_account(tenants.a, integration="/api/integrations/telegram"),
        new_account(tenants.a, unknown=1),
        new_account(tenants.a, client=f"/api/clients/{tenants.b.client_ids[0]}"),
    ]
    for body in bad:
        theirs = await peer.post("/api/accounts", json=body, headers=_headers(api, tenants.a.owner))
        mine = await api.create(tenants.a.owner, body)
        assert mine.status_code in {400, 422}, body
        assert theirs.status_code in {400, 422}, (body, theirs.text)
    viewer = await peer.post(
        "/api/accounts", json=new_account(tenants.a), headers=_headers(api, tenants.a.viewer)
    )
    assert viewer.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM accounts") == 0
