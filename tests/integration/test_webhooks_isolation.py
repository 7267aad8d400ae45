"""The dispatcher's own defences: SSRF checks at delivery time, no redirects, slow receivers kept apart."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from service.settings import Settings
from tests import eventing
from tests.identity import Tenants
from tests.integration.webhooks_support import Received, Receiver, Reply, WebhookApi, dispatching, events_of


async def test_private_destinations_are_refused_when_sending(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    """Endpoints saved while private URLs were allowed (or whose DNS changed since) are not reached."""
    strict = msgspec.structs.replace(
        wh_settings, webhooks_allow_private_urls=False, webhooks_retry_schedule="0"
    )
    async with Receiver() as receiver, dispatching(strict):
        hooks = [
            await wh_api.created(tenants.a.owner, url=receiver.url(host=host), events=["*"])
            for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]")
        ]
        await eventing.create_account(conn, events_of(tenants.a))

        async def all_given_up() -> bool:
            for hook in hooks:
                listed = await wh_api.deliveries(tenants.a.owner, hook["id"])
                if [d["status"] for d in listed] != ["failed"]:
                    return False
            return True

        await eventing.wait_until(all_given_up)
        for hook in hooks:
            (delivery,) = await wh_api.deliveries(tenants.a.owner, hook["id"])
            assert delivery["lastStatusCode"] is None
            assert delivery["lastError"].startswith("refused:"), delivery["lastError"]
    assert receiver.requests == []


async def test_redirects_are_not_followed(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    once = msgspec.structs.replace(wh_settings, webhooks_retry_schedule="0")
    async with Receiver() as target:

        def redirect(_: Received, __: int) -> Reply:
            return Reply(status=307, headers={"Location": target.url("/elsewhere")})

        async with Receiver(redirect) as receiver, dispatching(once):
            hook = await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
            await eventing.create_account(conn, events_of(tenants.a))

            async def given_up() -> bool:
                listed = await wh_api.deliveries(tenants.a.owner, hook["id"])
                return [d["status"] for d in listed] == ["failed"]

            await eventing.wait_until(given_up)
            (delivery,) = await wh_api.deliveries(tenants.a.owner, hook["id"])
            assert delivery["lastStatusCode"] == 307
        assert len(receiver.requests) == 1
        assert target.requests == []


async def test_a_hanging_endpoint_or_account_holds_back_nothing_else(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    capped = msgspec.structs.replace(
        wh_settings, webhooks_max_in_flight_per_endpoint=3, webhooks_read_timeout=30.0
    )
    slow_account: list[uuid.UUID] = []

    def hang_on_one_account(request: Received, _: int) -> Reply:
        return Reply(hang=True) if request.event["subject"] == str(slow_account[0]) else Reply()

    async with (
        dispatching(capped),
        Receiver(lambda _, __: Reply(hang=True)) as hanging,
        Receiver(hang_on_one_account) as partly,
        Receiver() as fast,
    ):
        for receiver in (hanging, partly, fast):
            await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
        slow_account.append(await eventing.create_account(conn, events_of(tenants.a)))
        await eventing.update_account(conn, slow_account[0], name="Creed Bratton")
        others = [await eventing.create_account(conn, events_of(tenants.a)) for _ in range(8)]
        for account in others:
            await eventing.update_account(conn, account, name="Meredith Palmer")
        expected = 2 * (len(others) + 1)
        # Every event reaches the fast endpoint, and every other account's reach the partly slow one,
        # while the hanging endpoint holds at most its cap of requests open.
        await eventing.wait_until(lambda: len(fast.unique()) == expected)
        await eventing.wait_until(lambda: len(partly.unique()) == expected - 2)
        assert hanging.most_open <= 3 and len(hanging.requests) <= 3
        # The slow account's second version waits behind its first, which is still unanswered.
        slow = str(slow_account[0])
        assert [r.event["accountversion"] for r in partly.requests if r.event["subject"] == slow] == [1]


async def test_the_command_delivers_and_a_standby_takes_over(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    env = {
        "DATABASE_URL": wh_settings.database_url,
        "CREDENTIALS_KEYS": wh_settings.credentials_keys,
        "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
        "WEBHOOKS_POLL_INTERVAL": "0.1",
        "LOG_FORMAT": "text",
    }
    async with Receiver() as receiver:
        await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
        command = eventing.cli("webhooks", env=env)
        try:
            account = await eventing.create_account(conn, events_of(tenants.a))
            await eventing.wait_until(lambda: len(receiver.requests) == 1)
            async with dispatching(wh_settings):
                # The in-process dispatcher waits as a standby while the command holds the lock.
                await eventing.update_account(conn, account, name="Stanley Hudson")
                await eventing.wait_until(lambda: len(receiver.requests) == 2)
                command.terminate()
                assert command.wait(timeout=20) == 0
                await eventing.update_account(conn, account, name="Phyllis Vance")
                await eventing.wait_until(lambda: len(receiver.requests) == 3)
        finally:
            if command.poll() is None:
                command.kill()
    assert [r.event["accountversion"] for r in receiver.requests] == [1, 2, 3]
    assert len(receiver.unique()) == 3


async def test_a_first_backlog_gets_its_tables_analyzed_before_it_is_sent(
    wh_api: WebhookApi, wh_settings: Settings, tenants: Tenants, conn: asyncpg.Connection
) -> None:
    """Without statistics the planner takes the queue for empty and reads a backlog whole per round."""
    tenant = events_of(tenants.a)
    # Only the dispatcher may analyze here (this test's own database), not autovacuum meanwhile.
    await conn.execute("ALTER TABLE webhook_deliveries SET (autovacuum_enabled = false)")
    analyzed = (
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables"
        " WHERE relid = 'webhook_deliveries'::regclass"
    )
    async with Receiver() as receiver:
        await wh_api.created(tenants.a.owner, url=receiver.url(), events=["*"])
        await conn.execute(
            "INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id,"
            " account_version, payload)"
            " SELECT gen_random_uuid(), 'account.updated', gen_random_uuid(), $1, $2, 1, '{}'::jsonb"
            " FROM generate_series(1, 1200)",
            tenant.organization_id, tenant.client_id,
        )  # fmt: skip
        assert not await conn.fetchval(analyzed)
        async with dispatching(wh_settings):

            async def statistics_taken() -> bool:
                return bool(await conn.fetchval(analyzed))

            await eventing.wait_until(statistics_taken, timeout=60)
            await eventing.wait_until(lambda: len(receiver.unique()) == 1200, timeout=60)
