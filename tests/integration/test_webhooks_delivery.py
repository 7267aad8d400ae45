"""Deliveries end to end: outbox → dispatcher → a local receiver; signatures checked by `standardwebhooks`."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.settings import Settings
from tests import eventing
from tests.identity import Tenants
from tests.integration.webhooks_support import Received, Receiver, Reply, WebhookApi, dispatching, events_of


async def test_signed_cloudevents_of_the_own_organization_only(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    async with Receiver() as a, Receiver() as b, Receiver() as filtered, dispatching(wh_settings):
        hook_a = await wh_api.created(tenants.a.owner, url=a.url(), events=["*"])
        hook_b = await wh_api.created(tenants.b.owner, url=b.url(), events=["*"])
        second_client = f"/api/clients/{tenants.a.client_ids[1]}"
        await wh_api.created(
            tenants.a.owner, url=filtered.url(), events=["account.updated"], clients=[second_client]
        )
        first = await eventing.create_account(conn, events_of(tenants.a))
        await eventing.update_account(conn, first, name="Dwight Schrute")
        await eventing.remove_account(conn, first)
        other = await eventing.create_account(conn, events_of(tenants.b))
        second = await eventing.create_account(conn, events_of(tenants.a, 1))
        await eventing.update_account(conn, second, status="connected")

        await eventing.wait_until(
            lambda: len(a.requests) == 5 and len(b.requests) == 1 and len(filtered.requests) == 1
        )
        verifier = Webhook(hook_a["secret"])
        outbox = await conn.fetch("SELECT event_id, account_id FROM outbox")
        accounts_of = {str(row["event_id"]): row["account_id"] for row in outbox}
        assert {accounts_of[r.headers["webhook-id"]] for r in a.requests} == {first, second}
        for request in a.requests:
            assert request.headers["content-type"] == "application/cloudevents+json"
            event = verifier.verify(request.body, request.headers)
            assert event["specversion"] == "1.0" and event["id"] == request.headers["webhook-id"]
            assert event["organization"] == str(tenants.a.organization_id)
            assert event["subject"] == event["data"]["id"] == str(accounts_of[event["id"]])
            assert event["accountversion"] == event["data"]["version"]
            with pytest.raises(WebhookVerificationError):
                Webhook(hook_b["secret"]).verify(request.body, request.headers)
        of_first = [r.event for r in a.requests if r.event["subject"] == str(first)]
        assert [e["type"] for e in of_first] == ["account.connected", "account.updated", "account.removed"]
        assert of_first[1]["data"]["changes"] == ["name"]
        assert b.requests[0].event["subject"] == str(other)
        Webhook(hook_b["secret"]).verify(b.requests[0].body, b.requests[0].headers)
        only = filtered.requests[0].event
        assert only["type"] == "account.updated" and only["subject"] == str(second)


async def test_both_secrets_sign_during_a_rotation(
    wh_api: WebhookApi,
    wh_settings: Settings,
    tenants: Tenants,
    conn: asyncpg.Connection,
    db: asyncpg.Connection,
) -> None:
    async with Receiver() as receiver, dispatching(wh_settings):
        hook = await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
        path = f"/api/webhook_endpoints/{hook['id']}/rotate_secret"
        rotated = await wh_api.http.post(path, headers=wh_api.headers(tenants.a.owner))
        new_secret = rotated.json()["secret"]
        account = await eventing.create_account(conn, events_of(tenants.a))
        await eventing.wait_until(lambda: len(receiver.requests) == 1)
        request = receiver.requests[0]
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        for secret in (hook["secret"], new_secret):
            Webhook(secret).verify(request.body, request.headers)
        # Once the overlap is over, only the new secret signs.
        await db.execute("UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 s'")
        await eventing.update_account(conn, account, name="Jim Halpert")
        await eventing.wait_until(lambda: len(receiver.requests) == 2)
        later = receiver.requests[1]
        assert len(later.headers["webhook-signature"].split(" ")) == 1
        Webhook(new_secret).verify(later.body, later.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(hook["secret"]).verify(later.body, later.headers)


async def test_order_per_account_under_concurrent_changes_and_failures(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, database_url: str
) -> None:
    def flaky(request: Received, before: int) -> Reply:
        # The first attempt of about a third of the events fails: retries must keep each account's order.
        event_id = uuid.UUID(request.headers["webhook-id"])
        return Reply(status=503) if before == 0 and event_id.int % 3 == 0 else Reply()

    accounts, updates = 24, 4
    async with Receiver(flaky) as receiver, dispatching(wh_settings):
        await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])

        async def churn(connection: asyncpg.Connection, count: int) -> list[uuid.UUID]:
            # Each conn interleaves changes of its accounts; the writers run concurrently.
            mine = [await eventing.create_account(connection, events_of(tenants.a)) for _ in range(count)]
            for step in range(updates):
                for account in mine:
                    await eventing.update_account(connection, account, name=f"name {step}")
            return mine

        writers = 6
        connections = [await eventing.connect(database_url) for _ in range(writers)]
        try:
            batches = await asyncio.gather(*(churn(c, accounts // writers) for c in connections))
        finally:
            for connection in connections:
                await connection.close()
        ids = [account for batch in batches for account in batch]
        expected = accounts * (updates + 1)
        await eventing.wait_until(lambda: len(receiver.unique()) == expected, timeout=60)
    acknowledged: dict[str, int] = {}
    for request in receiver.requests:
        event = request.event
        account, version = event["subject"], event["accountversion"]
        # Version N+1 never arrives before N was acknowledged.
        assert version == acknowledged.get(account, 0) + 1 or version <= acknowledged.get(account, 0), event
        if 200 <= request.status < 300:
            acknowledged[account] = max(acknowledged.get(account, 0), version)
    assert acknowledged == {str(account): updates + 1 for account in ids}
