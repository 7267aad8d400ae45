import uuid
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.identity import Tenants

Client = AsyncTestClient
JSON = {"Accept": "application/json"}
PATCH_TYPE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def owner(tenants: Tenants, token_for: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(tenants.a.owner)}"}


async def test_collection_in_json_ld(client: Client, tenants: Tenants, owner: dict[str, str]) -> None:
    response = await client.get("/api/clients", headers=owner)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    body = response.json()
    assert body["@context"] == "/api/contexts/Client"
    assert body["@id"] == "/api/clients"
    assert body["@type"] == "Collection"
    assert body["totalItems"] == 2
    first = body["member"][0]
    assert first["@id"] == f"/api/clients/{tenants.a.client_ids[0]}"
    assert first["@type"] == "Client"
    assert set(first) == {"@id", "@type", "id", "name", "website", "createdAt", "updatedAt"}
    assert [m["id"] for m in body["member"]] == [str(c) for c in tenants.a.client_ids]
    assert body["view"]["@type"] == "PartialCollectionView"
    assert body["search"]["template"] == "/api/clients{?name}"


async def test_collection_in_plain_json_is_a_bare_array(
    client: Client, tenants: Tenants, owner: dict[str, str]
) -> None:
    response = await client.get("/api/clients", headers=owner | JSON)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and len(body) == 2
    assert set(body[0]) == {"id", "name", "website", "createdAt", "updatedAt"}
    datetime.fromisoformat(body[0]["createdAt"])
    assert body[0]["createdAt"].endswith("+00:00")
    assert body[0]["updatedAt"] is None


async def test_pagination(client: Client, tenants: Tenants, owner: dict[str, str]) -> None:
    for index in range(3):
        await client.post("/api/clients", json={"name": f"extra {index}"}, headers=owner)
    page = (await client.get("/api/clients?itemsPerPage=2&page=2", headers=owner)).json()
    assert page["totalItems"] == 5
    assert [m["name"] for m in page["member"]] == ["extra 0", "extra 1"]
    assert page["view"]["previous"] == "/api/clients?itemsPerPage=2&page=1"
    assert page["view"]["next"] == "/api/clients?itemsPerPage=2&page=3"
    assert page["view"]["last"] == "/api/clients?itemsPerPage=2&page=3"
    past_end = (await client.get("/api/clients?page=9", headers=owner)).json()
    assert past_end["member"] == []
    for bad in ("page=0", "itemsPerPage=101", "page=x"):
        assert (await client.get(f"/api/clients?{bad}", headers=owner)).status_code == 400


async def test_name_filter_is_a_case_insensitive_substring(
    client: Client, tenants: Tenants, owner: dict[str, str]
) -> None:
    await client.post("/api/clients", json={"name": "100% Dunder_Mifflin"}, headers=owner)
    found = (await client.get("/api/clients?name=dunder_", headers=owner | JSON)).json()
    assert [c["name"] for c in found] == ["100% Dunder_Mifflin"]
    # LIKE wildcards are matched literally.
    assert len((await client.get("/api/clients?name=%25", headers=owner | JSON)).json()) == 1


async def test_a_repeated_name_is_400_as_on_accounts(
    client: Client, tenants: Tenants, owner: dict[str, str]
) -> None:
    for path in ("/api/clients", "/api/accounts"):
        answer = await client.get(f"{path}?name=a&name=b", headers=owner)
        assert answer.status_code == 400
        assert answer.json()["detail"] == 'Query parameter "name" must be given once.'


async def test_create_then_read(client: Client, tenants: Tenants, owner: dict[str, str]) -> None:
    created = await client.post(
        "/api/clients",
        json={"name": "  Dunder Mifflin ", "website": "https://dundermifflin.com"},
        headers=owner,
    )
    assert created.status_code == 201
    body = created.json()
    assert created.headers["location"] == f"/api/clients/{body['id']}"
    assert body["@context"] == "/api/contexts/Client"
    assert body["@id"] == created.headers["location"]
    assert (body["name"], body["website"], body["updatedAt"]) == (
        "Dunder Mifflin",
        "https://dundermifflin.com",
        None,
    )
    shown = await client.get(created.headers["location"], headers=owner | JSON)
    assert shown.json() == {k: v for k, v in body.items() if not k.startswith("@")}


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({}, "name", "This value should not be blank."),
        ({"name": "   "}, "name", "This value should not be blank."),
        ({"name": "x" * 256}, "name", "This value is too long. It should have 255 characters or less."),
        ({"name": "x", "website": "not a url"}, "website", "This value is not a valid URL."),
        ({"name": "x", "website": "ftp://example.com"}, "website", "This value is not a valid URL."),
    ],
)
async def test_invalid_client_is_422(
    client: Client, tenants: Tenants, owner: dict[str, str], body: dict[str, Any], path: str, message: str
) -> None:
    response = await client.post("/api/clients", json=body, headers=owner)
    assert response.status_code == 422
    problem = response.json()
    assert problem["@type"] == "ConstraintViolation"
    assert problem["violations"][0]["propertyPath"] == path
    assert problem["violations"][0]["message"] == message


@pytest.mark.parametrize(
    "body",
    [{"name": "x", "id": "1"}, {"name": "x", "createdAt": "2020-01-01"}, {"name": 5}, ["name"]],
)
async def test_unknown_read_only_or_mistyped_fields_are_400(
    client: Client, tenants: Tenants, owner: dict[str, str], body: Any
) -> None:
    assert (await client.post("/api/clients", json=body, headers=owner)).status_code == 400


async def test_malformed_json_is_400_and_wrong_type_is_415(
    client: Client, tenants: Tenants, owner: dict[str, str]
) -> None:
    broken = await client.post(
        "/api/clients", content=b"{", headers=owner | {"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    form = await client.post(
        "/api/clients", content=b"name=x", headers=owner | {"Content-Type": "text/plain"}
    )
    assert form.status_code == 415


async def test_merge_patch(client: Client, tenants: Tenants, owner: dict[str, str]) -> None:
    path = f"/api/clients/{tenants.a.client_ids[0]}"
    renamed = await client.patch(path, content=b'{"name": "Renamed"}', headers=owner | PATCH_TYPE)
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Renamed"
    assert renamed.json()["website"] == f"https://client0.{tenants.a.name}.example"
    assert renamed.json()["updatedAt"] is not None
    cleared = await client.patch(path, content=b'{"website": null}', headers=owner | PATCH_TYPE)
    assert (cleared.json()["name"], cleared.json()["website"]) == ("Renamed", None)


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"name": "x"}', {"Content-Type": "application/json"}, 415),
        (b'{"name": null}', PATCH_TYPE, 400),
        (b'{"id": "x"}', PATCH_TYPE, 400),
        (b'{"name": ""}', PATCH_TYPE, 422),
        (b"{", PATCH_TYPE, 400),
    ],
)
async def test_bad_patches(
    client: Client,
    tenants: Tenants,
    owner: dict[str, str],
    db: asyncpg.Connection,
    content: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    path = f"/api/clients/{tenants.a.client_ids[0]}"
    assert (await client.patch(path, content=content, headers=owner | headers)).status_code == status
    assert (
        await db.fetchval("SELECT name FROM clients WHERE id = $1", tenants.a.client_ids[0])
        == "acme client 0"
    )


async def test_delete(client: Client, tenants: Tenants, owner: dict[str, str]) -> None:
    path = f"/api/clients/{tenants.a.client_ids[1]}"
    response = await client.delete(path, headers=owner)
    assert response.status_code == 204
    assert (await client.get(path, headers=owner)).status_code == 404
    assert (await client.delete(path, headers=owner)).status_code == 404


async def test_client_with_live_accounts_cannot_be_deleted(
    client: Client, tenants: Tenants, owner: dict[str, str], db: asyncpg.Connection
) -> None:
    client_id = tenants.a.client_ids[0]
    account_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO accounts (id, organization_id, client_id, integration, provider, type, name)"
        " VALUES ($1, $2, $3, 'whatsapp', 'whatsapp', 'whatsapp', 'Michael')",
        account_id,
        tenants.a.organization_id,
        client_id,
    )
    response = await client.delete(f"/api/clients/{client_id}", headers=owner)
    assert response.status_code == 409
    await db.execute("UPDATE accounts SET deleted_at = now() WHERE id = $1", account_id)
    assert (await client.delete(f"/api/clients/{client_id}", headers=owner)).status_code == 204


async def test_unknown_and_malformed_ids_are_404(
    client: Client, tenants: Tenants, owner: dict[str, str]
) -> None:
    assert (await client.get(f"/api/clients/{uuid.uuid4()}", headers=owner)).status_code == 404
    assert (await client.get("/api/clients/not-a-uuid", headers=owner)).status_code == 404


async def test_unknown_accept_is_406(client: Client, tenants: Tenants, owner: dict[str, str]) -> None:
    response = await client.get("/api/clients", headers=owner | {"Accept": "text/csv"})
    assert response.status_code == 406


async def test_api_key_manages_clients(client: Client, tenants: Tenants) -> None:
    key = {"X-API-KEY": tenants.b.api_key}
    created = await client.post("/api/clients", json={"name": "From the backend"}, headers=key)
    assert created.status_code == 201
    listed = (await client.get("/api/clients", headers=key | JSON)).json()
    assert {c["id"] for c in listed} == {*map(str, tenants.b.client_ids), created.json()["id"]}
