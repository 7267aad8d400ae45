"""A revocation reaches every API process within the bound, each with its own cache of verified tokens:
at once through NOTIFY, and through the periodic re-read when a notice was missed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.auth.revocation import Revoked
from service.auth.revocation_feed import APPLICATION_NAME
from service.auth.revoke import revoke
from service.settings import Settings
from tests.identity import Tenants
from tests.integration.api_process import ApiProcess, api_environment
from tests.security.revocation_support import (
    BOUND_SECONDS,
    accepted,
    cli_environment,
    jti_of,
    log_in,
    run_cli,
    until_refused,
)

Client = AsyncTestClient[Any]


@asynccontextmanager
async def apps(settings: Settings, count: int) -> AsyncIterator[list[Client]]:
    """`count` instances of the app, each with its own pool, token cache and revocation feed."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(AsyncTestClient(app=create_app(settings))) for _ in range(count)
        ]


async def test_a_revocation_reaches_another_process_through_notify(
    client: Client, settings: Settings, tenants: Tenants
) -> None:
    # The periodic re-read is as slow as allowed: only NOTIFY can be this quick.
    process = ApiProcess(api_environment(settings, REVOCATION_REFRESH_SECONDS="60"))
    try:
        await asyncio.to_thread(process.wait_ready)
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as other:
            pair = await log_in(client, tenants.a.owner_username, tenants.password)
            await accepted(client, pair["token"])
            await accepted(other, pair["token"])

            await run_cli(cli_environment(settings), "token", "revoke", "--jti", jti_of(pair["token"]))

            await until_refused(client, pair["token"], within=BOUND_SECONDS / 2)
            await until_refused(other, pair["token"], within=BOUND_SECONDS / 2)
    finally:
        process.stop()


def _rereading(settings: Settings) -> Settings:
    """Instances that re-read the revocation list twice a second, whatever NOTIFY did."""
    return msgspec.structs.replace(settings, revocation_refresh_seconds=0.5)


async def _accepted_everywhere(instances: list[Client], tenants: Tenants) -> dict[str, str]:
    """An owner's log-in on the first instance, its token accepted by every instance."""
    pair = await log_in(instances[0], tenants.a.owner_username, tenants.password)
    for instance in instances:
        await accepted(instance, pair["token"])
    return pair


async def test_a_missed_notice_is_caught_up_by_the_periodic_reread(
    settings: Settings, tenants: Tenants, db: asyncpg.Connection
) -> None:
    async with apps(_rereading(settings), 2) as instances:
        pair = await _accepted_everywhere(instances, tenants)

        # Written without NOTIFY, as if every notice had been lost.
        await db.execute(
            "INSERT INTO token_revocations (kind, value, expires_at)"
            " VALUES ('jti', $1, now() + interval '1 hour')",
            jti_of(pair["token"]),
        )

        for instance in instances:
            await until_refused(instance, pair["token"])


async def test_a_lost_listening_connection_is_replaced(
    settings: Settings, tenants: Tenants, db: asyncpg.Connection
) -> None:
    async with apps(_rereading(settings), 2) as instances:
        first = await _accepted_everywhere(instances, tenants)
        killed = await db.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            APPLICATION_NAME,
        )
        assert killed == 2

        await revoke(db, Revoked.USER, str(tenants.a.owner_id), 3600)

        for instance in instances:
            await until_refused(instance, first["token"])
        # Listening again: a later revocation arrives too.
        viewer = await log_in(instances[1], tenants.a.viewer_username, tenants.password)
        await accepted(instances[0], viewer["token"])
        await revoke(db, Revoked.JTI, jti_of(viewer["token"]), 3600)
        for instance in instances:
            await until_refused(instance, viewer["token"])
        assert (
            await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", APPLICATION_NAME
            )
            == 2
        )
