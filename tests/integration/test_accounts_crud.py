"""The accounts API's happy paths, in both formats, with their outbox events."""

from __future__ import annotations

import datetime as dt
import re

import asyncpg

from service.web.resource import timestamp
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import (
    CANARY,
    JSON,
    TIMESTAMP_PATTERN,
    UUID_PATTERN,
    Api,
    client_iri,
    new_account,
    outbox,
)


async def test_owner_creates_an_account_in_json_ld(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    response = await api.create(tenants.a.owner, new_account(tenants.a))

    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/ld+json")
    body = response.json()
    account_id = body["id"]
    assert re.fullmatch(UUID_PATTERN, account_id)
    assert response.headers["location"] == f"/api/accounts/{account_id}"
    assert response.headers["etag"] == 'W/"1"'
    assert re.match(TIMESTAMP_PATTERN, body.pop("createdAt"))
    assert body == {
        "@context": "/api/contexts/Account",
        "@id": f"/api/accounts/{account_id}",
        "@type": "Account",
        "id": account_id,
        "name": "Michael Scott",
        "headline": "Regional Manager at Dunder Mifflin",
        "avatar": "https://example.com/avatars/michael_scott.png",
        "integration": "/api/integrations/whatsapp",
        "provider": "whatsapp",
        "type": "whatsapp",
        "externalId": "+15555550100",
        "client": client_iri(tenants.a),
        "status": "connecting",
        "statusReason": None,
        "settings": {"receive": True, "send": True},
        "metadata": {},
        "version": 1,
        "updatedAt": None,
    }
    assert list(body)[:3] == ["@context", "@id", "@type"]
    [event] = await outbox(db, account_id)
    assert event["event_type"] == "account.connected"
    assert event["account_version"] == 1
    assert event["organization_id"] == tenants.a.organization_id
    assert event["client_id"] == tenants.a.client_ids[0]
    assert event["payload"] == {k: v for k, v in response.json().items() if not k.startswith("@")}
    assert CANARY not in response.text and CANARY not in str(event)


async def test_customer_creates_an_account_for_its_own_client_in_plain_json(
    api: Api, tenants: Tenants
) -> None:
    response = await api.create(tenants.a.customer, new_account(), JSON)

    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert not [key for key in body if key.startswith("@")]
    assert body["client"] == client_iri(tenants.a, 0)


async def test_every_reader_gets_the_item_with_its_etag(api: Api, tenants: Tenants) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{created['id']}"
    for who in (tenants.a.owner, tenants.a.viewer, tenants.a.customer, WORKER):
        response = await api.get(who, path, JSON)
        assert response.status_code == 200, who
        assert response.headers["etag"] == 'W/"1"'
        assert response.json() == created
    linked = await api.get(tenants.a.viewer, path)
    assert linked.json()["@id"] == path
    assert CANARY not in linked.text


async def test_collection_in_both_formats(api: Api, tenants: Tenants) -> None:
    first = await api.created(tenants.a.owner, new_account(tenants.a, name="Alpha", externalId="1"))
    second = await api.created(tenants.a.owner, new_account(tenants.a, 1, name="Beta", externalId="2"))

    plain = await api.get(tenants.a.owner, "/api/accounts", JSON)
    assert plain.status_code == 200
    assert plain.json() == [first, second]

    linked = await api.get(tenants.a.owner, "/api/accounts")
    body = linked.json()
    assert body["@context"] == "/api/contexts/Account"
    assert body["@id"] == "/api/accounts"
    assert body["@type"] == "Collection"
    assert body["totalItems"] == 2
    assert [m["@id"] for m in body["member"]] == [f"/api/accounts/{a['id']}" for a in (first, second)]
    assert body["member"][0] == {"@id": f"/api/accounts/{first['id']}", "@type": "Account", **first}
    assert body["view"] == {
        "@id": "/api/accounts?page=1",
        "@type": "PartialCollectionView",
        "first": "/api/accounts?page=1",
        "last": "/api/accounts?page=1",
    }
    assert body["search"]["@type"] == "IriTemplate"
    assert body["search"]["template"].startswith("/api/accounts{?integration,integration[],")
    variables = {m["variable"] for m in body["search"]["mapping"]}
    assert variables >= {"integration", "status[]", "name", "order[name]"}


async def test_owner_renames_and_the_version_and_event_follow(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{created['id']}"

    changes = {"name": "Dwight Schrute", "metadata": {"desk": 2}}
    response = await api.patch(tenants.a.owner, path, changes, JSON)

    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"2"'
    body = response.json()
    assert body["name"] == "Dwight Schrute"
    assert body["metadata"] == {"desk": 2}
    assert body["version"] == 2
    assert re.match(TIMESTAMP_PATTERN, body["updatedAt"])
    assert body["headline"] == created["headline"]
    linked = await api.patch(tenants.a.customer, path, {"headline": None})
    assert linked.status_code == 200 and linked.headers["etag"] == 'W/"3"'
    assert linked.headers["content-type"].startswith("application/ld+json")
    assert linked.json() == {
        "@context": "/api/contexts/Account",
        "@id": path,
        "@type": "Account",
        **body,
        "headline": None,
        "version": 3,
        "updatedAt": linked.json()["updatedAt"],
    }
    events = (await outbox(db, created["id"]))[:2]
    assert [e["event_type"] for e in events] == ["account.connected", "account.updated"]
    assert events[1]["account_version"] == 2
    assert events[1]["payload"] == body | {"changes": ["name", "metadata"]}


async def test_delete_hides_the_account_and_destroys_its_credentials(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    created = await api.created(tenants.a.owner, new_account(tenants.a))
    path = f"/api/accounts/{created['id']}"

    response = await api.delete(tenants.a.owner, path)

    assert response.status_code == 204
    assert response.content == b""
    assert (await api.get(tenants.a.owner, path)).status_code == 404
    assert (await api.get(WORKER, f"{path}/credentials")).status_code == 404
    assert (await api.get(tenants.a.owner, "/api/accounts", JSON)).json() == []
    row = await db.fetchrow("SELECT credentials, credentials_key_id, deleted_at, version FROM accounts")
    assert row["credentials"] is None and row["credentials_key_id"] is None
    assert row["deleted_at"] is not None and row["version"] == 2
    events = await outbox(db, created["id"])
    assert [e["event_type"] for e in events] == ["account.connected", "account.removed"]
    assert events[1]["account_version"] == 2
    assert events[1]["payload"]["id"] == created["id"] and events[1]["payload"]["version"] == 2
    # The external id is free again for a new account of the same client.
    assert (await api.create(tenants.a.owner, new_account(tenants.a))).status_code == 201


async def test_worker_reads_the_decrypted_credentials(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    created = await api.created(tenants.b.customer, new_account())
    path = f"/api/accounts/{created['id']}/credentials"

    response = await api.get(WORKER, path, JSON)

    assert response.status_code == 200
    assert response.json() == {"credentials": {"phoneNumberId": "1098765432", "accessToken": CANARY}}
    assert response.headers["cache-control"] == "no-store"
    linked = (await api.get(WORKER, path)).json()
    assert linked["@type"] == "AccountCredentials" and linked["@id"] == path
    stored = await db.fetchval("SELECT credentials FROM accounts")
    assert CANARY.encode() not in stored


async def test_the_database_writes_event_dates_as_the_api_does(db: asyncpg.Connection) -> None:
    """Events get their version and timestamps from the statement that writes them (api_timestamp)."""
    moments = [
        dt.datetime(2026, 11, 26, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 29, 0, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(1999, 12, 31, 18, 30, 1, 500_000, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
    ]
    for moment in moments:
        assert await db.fetchval("SELECT api_timestamp($1)", moment) == timestamp(moment)
