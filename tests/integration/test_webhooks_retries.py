"""Failing receivers: retries (timeouts, 5xx, 429 and Retry-After), 410, disabling, deliveries, replay."""

from __future__ import annotations

import asyncpg
import msgspec

from service.settings import Settings
from tests import eventing
from tests.identity import Tenants
from tests.integration.webhooks_support import Received, Receiver, Reply, WebhookApi, dispatching, events_of


def troubled(request: Received, before: int) -> Reply:
    """Each event: a 500, then no answer (the read timeout), then 429 asking for 1 s, then success."""
    if before == 0:
        return Reply(status=500, body=b"boom")
    if before == 1:
        return Reply(hang=True)
    if before == 2:
        return Reply(status=429, headers={"Retry-After": "1"})
    return Reply()


async def test_a_troubled_receiver_gets_every_event_once_in_order(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    async with Receiver(troubled) as receiver, dispatching(wh_settings):
        hook = await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
        accounts = [await eventing.create_account(conn, events_of(tenants.a)) for _ in range(3)]
        for account in accounts:
            await eventing.update_account(conn, account, name="Andy Bernard")
        await eventing.wait_until(lambda: len(receiver.unique()) == 6, timeout=60)
        kept = receiver.unique()
    for account in accounts:
        versions = [r.event["accountversion"] for r in kept if r.event["subject"] == str(account)]
        assert versions == [1, 2]
    by_event: dict[str, list[Received]] = {}
    for request in receiver.requests:
        by_event.setdefault(request.headers["webhook-id"], []).append(request)
    for attempts in by_event.values():
        assert [a.status for a in attempts] == [500, 0, 429, 200]
        # Retry-After was honoured: the next attempt came no sooner than asked.
        assert attempts[3].at - attempts[2].at >= 1.0
    listed = await wh_api.deliveries(tenants.a.owner, hook["id"])
    assert len(listed) == 6 and {d["status"] for d in listed} == {"delivered"}
    first = listed[0]
    assert first["attempts"] == 4 and first["lastStatusCode"] == 200 and first["nextAttemptAt"] is None
    assert [h["status"] for h in first["history"]] == [500, None, 429, 200]
    assert first["history"][0]["error"].startswith("HTTP 500: boom")
    assert first["history"][1]["error"] == "timed out"
    assert all(h["latencyMs"] >= 0 for h in first["history"])


async def test_410_disables_the_endpoint(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    async with Receiver(lambda _, __: Reply(status=410)) as receiver, dispatching(wh_settings):
        hook = await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
        account = await eventing.create_account(conn, events_of(tenants.a))
        path = f"/api/webhook_endpoints/{hook['id']}"

        async def disabled() -> bool:
            shown = await wh_api.http.get(path, headers=wh_api.headers(tenants.a.owner))
            return shown.json()["enabled"] is False

        await eventing.wait_until(disabled)
        shown = (await wh_api.http.get(path, headers=wh_api.headers(tenants.a.owner))).json()
        assert shown["disabledReason"] == "The endpoint answered 410 Gone." and shown["disabledAt"]
        await eventing.update_account(conn, account, name="Toby Flenderson")
        assert len(receiver.requests) == 1
        listed = await wh_api.deliveries(tenants.a.owner, hook["id"])
        assert [(d["status"], d["lastStatusCode"]) for d in listed] == [("failed", 410)]


async def test_an_endpoint_failing_for_too_long_is_disabled_with_its_reason(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    quick = msgspec.structs.replace(
        wh_settings, webhooks_disable_after_seconds=0.5, webhooks_retry_schedule="0" + ",0.2" * 30
    )
    async with Receiver(lambda _, __: Reply(status=503)) as receiver, dispatching(quick):
        hook = await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
        await eventing.create_account(conn, events_of(tenants.a))
        path = f"/api/webhook_endpoints/{hook['id']}"

        async def disabled() -> bool:
            return (await wh_api.http.get(path, headers=wh_api.headers(tenants.a.owner))).json()[
                "enabled"
            ] is False

        await eventing.wait_until(disabled)
        shown = (await wh_api.http.get(path, headers=wh_api.headers(tenants.a.owner))).json()
        assert shown["disabledReason"] == "Every delivery failed for 0.5 seconds."
        assert len(receiver.requests) >= 2
        # The owner re-enables it: the waiting delivery goes out again.
        receiver.behave = lambda _, __: Reply()
        enabled = await wh_api.patch(tenants.a.owner, hook["id"], {"enabled": True})
        assert enabled.json()["enabled"] is True and enabled.json()["failingSince"] is None
        await eventing.wait_until(lambda: len(receiver.unique()) == 1)


async def test_given_up_deliveries_release_the_next_version_and_can_be_retried_and_replayed(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    short = msgspec.structs.replace(wh_settings, webhooks_retry_schedule="0,0.1")

    def refuse_first_version(request: Received, _: int) -> Reply:
        return Reply(status=500) if request.event["accountversion"] == 1 else Reply()

    async with Receiver(refuse_first_version) as receiver, dispatching(short):
        hook = await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
        owner = tenants.a.owner
        account = await eventing.create_account(conn, events_of(tenants.a))
        await eventing.update_account(conn, account, name="Kevin Malone")
        # Version 1 is given up after its two attempts; only then does version 2 go out.
        await eventing.wait_until(lambda: len(receiver.unique()) == 1)
        assert [r.event["accountversion"] for r in receiver.requests] == [1, 1, 2]
        failed = await wh_api.deliveries(owner, hook["id"], "&status=failed")
        assert len(failed) == 1 and failed[0]["attempts"] == 2 and failed[0]["accountVersion"] == 1

        receiver.behave = lambda _, __: Reply()
        base = f"/api/webhook_endpoints/{hook['id']}/deliveries"
        retried = await wh_api.http.post(f"{base}/{failed[0]['id']}/retry", headers=wh_api.headers(owner))
        assert retried.status_code == 202 and retried.json()["status"] == "pending"
        await eventing.wait_until(lambda: len(receiver.unique()) == 2)
        shown = await wh_api.http.get(f"{base}/{failed[0]['id']}", headers=wh_api.headers(owner))
        assert shown.json()["status"] == "delivered" and shown.json()["attempts"] == 1

        replay = await wh_api.http.post(
            f"/api/webhook_endpoints/{hook['id']}/replay",
            json={"since": "2000-01-01T00:00:00+00:00"},
            headers=wh_api.headers(owner),
        )
        assert replay.status_code == 202 and replay.json() == {"deliveries": 2}
        await eventing.wait_until(lambda: len(receiver.requests) == 6)
        # The same webhook-ids again: a receiver that deduplicates keeps what it had.
        assert len(receiver.unique()) == 2
        for bad in [{}, {"since": "yesterday"}, {"since": "2020-01-01T00:00:00"}]:
            path = f"/api/webhook_endpoints/{hook['id']}/replay"
            assert (await wh_api.http.post(path, json=bad, headers=wh_api.headers(owner))).status_code == 400
        assert (
            await wh_api.http.get(f"{base}?status=nope", headers=wh_api.headers(owner))
        ).status_code == 400
