"""Idempotency keys belong to their caller (Stripe's model): the organization for owners and API keys,
each client for its customer tokens. Nobody can squat another caller's key or learn it was used."""

from __future__ import annotations

import asyncpg
import httpx

from service.auth.principal import Principal
from tests.identity import Tenants
from tests.integration.accounts_support import JSON, Api, client_iri, new_account

KEY = {"Idempotency-Key": "order-4711"}


async def _with_api_key(api: Api, tenants: Tenants, body: dict[str, object]) -> httpx.Response:
    headers = {"X-API-KEY": tenants.a.api_key, "Accept": JSON} | KEY
    return await api.http.post("/api/accounts", json=body, headers=headers)


def _fresh(response: httpx.Response) -> str:
    """The id of a newly created account (neither a replay, nor a 409/422 that would tell the key is used)."""
    assert response.status_code == 201, response.text
    assert "Idempotent-Replayed" not in response.headers
    account_id: str = response.json()["id"]
    return account_id


async def test_a_customer_cannot_squat_the_owners_or_another_clients_key(
    api: Api, tenants: Tenants, db: asyncpg.Connection
) -> None:
    customer: Principal = tenants.a.customer_of(0)
    squatted = _fresh(await api.create(customer, new_account(externalId="+1555000001"), JSON, **KEY))

    # The owner's request with the same key is its own, with another body: created, not 422 or a replay.
    owner_body = new_account(tenants.a, 1, externalId="+1555000002")
    owner = _fresh(await api.create(tenants.a.owner, owner_body, JSON, **KEY))
    # An API key shares the owner's space: the owner's response replays for the same request.
    replay = await _with_api_key(api, tenants, owner_body)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == owner
    # Another client's customer has its own space too.
    other_body = new_account(externalId="+1555000003")
    other = _fresh(await api.create(tenants.a.customer_of(1), other_body, JSON, **KEY))

    assert len({squatted, owner, other}) == 3
    assert await db.fetchval("SELECT count(*) FROM accounts") == 3
    clients = {row["client_id"] for row in await db.fetch("SELECT client_id FROM accounts")}
    assert clients == set(tenants.a.client_ids)


async def test_a_customer_cannot_learn_the_owner_used_a_key(api: Api, tenants: Tenants) -> None:
    owner_body = new_account(tenants.a, 0, externalId="+1555000010")
    owner = _fresh(await api.create(tenants.a.owner, owner_body, JSON, **KEY))

    # The same key from a customer of the very client the owner's account went to: a new request,
    # answered as if the key had never been seen (no 422 for another body, no replay of the owner's).
    customer = tenants.a.customer_of(0)
    first = _fresh(await api.create(customer, new_account(externalId="+1555000011"), JSON, **KEY))
    assert first != owner
    # Its own retry replays its own response.
    again = await api.create(customer, new_account(externalId="+1555000011"), JSON, **KEY)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == first
    # And the owner still gets its own.
    owner_again = await api.create(tenants.a.owner, owner_body, JSON, **KEY)
    assert owner_again.headers["Idempotent-Replayed"] == "true" and owner_again.json()["id"] == owner
    assert client_iri(tenants.a, 0) == owner_again.json()["client"]
