"""Every token can be revoked, through the real app and the real command line: by jti, by user, by API
key, by refresh family, by deleting or re-roling a user. The next request is LexikJWT's 401."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.settings import Settings
from tests.identity import Tenants
from tests.security.revocation_support import (
    accepted,
    bearer,
    cli_environment,
    jti_of,
    log_in,
    output,
    run_cli,
    until_refused,
)

Client = AsyncTestClient[Any]


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return cli_environment(settings)


async def test_one_token_by_its_jti(client: Client, tenants: Tenants, env: dict[str, str]) -> None:
    first = await log_in(client, tenants.a.owner_username, tenants.password)
    second = await log_in(client, tenants.a.owner_username, tenants.password)
    await accepted(client, first["token"])

    result = await run_cli(env, "token", "revoke", "--jti", jti_of(first["token"]))

    assert output(result)["kind"] == "jti"
    await until_refused(client, first["token"])
    # Only that token: the same user's other one still works.
    await accepted(client, second["token"])


async def test_every_token_of_a_user(client: Client, tenants: Tenants, env: dict[str, str]) -> None:
    owner = await log_in(client, tenants.a.owner_username, tenants.password)
    viewer = await log_in(client, tenants.a.viewer_username, tenants.password)
    await accepted(client, owner["token"])

    await run_cli(env, "token", "revoke", "--user", str(tenants.a.owner_id))

    await until_refused(client, owner["token"])
    await accepted(client, viewer["token"])


@pytest.mark.parametrize("command", [("api-key", "revoke", "--id"), ("token", "revoke", "--api-key")])
async def test_an_api_key_with_the_customer_tokens_it_minted(
    client: Client, tenants: Tenants, env: dict[str, str], command: tuple[str, ...]
) -> None:
    key = {"X-API-KEY": tenants.a.api_key}
    body = {"client": f"/api/clients/{tenants.a.client_ids[0]}", "subject": "pam"}
    minted = await client.post("/api/tokens", json=body, headers=key)
    assert minted.status_code == 201
    customer = minted.json()["token"]
    await accepted(client, customer)

    await run_cli(env, *command, str(tenants.a.api_key_id))

    await until_refused(client, customer)
    refused = await client.get("/api/accounts", headers=key)
    assert refused.status_code == 401
    # Customer tokens of the other organization's key are untouched.
    other = await client.post(
        "/api/tokens",
        json={"client": f"/api/clients/{tenants.b.client_ids[0]}", "subject": "dwight"},
        headers={"X-API-KEY": tenants.b.api_key},
    )
    await accepted(client, other.json()["token"])


async def test_a_reused_refresh_token_revokes_the_access_tokens_of_its_family(
    client: Client, tenants: Tenants
) -> None:
    first = await log_in(client, tenants.a.owner_username, tenants.password)
    elsewhere = await log_in(client, tenants.a.owner_username, tenants.password)
    rotated = await client.post(
        "/authentication/token/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200
    await accepted(client, rotated.json()["token"])

    # The spent refresh token comes back: stolen. Its family is revoked, access tokens included.
    reused = await client.post(
        "/authentication/token/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 401

    await until_refused(client, first["token"])
    await until_refused(client, rotated.json()["token"])
    # Another log-in of the same user is another family.
    await accepted(client, elsewhere["token"])


async def test_deleting_a_user(
    client: Client, tenants: Tenants, env: dict[str, str], db: asyncpg.Connection
) -> None:
    pair = await log_in(client, tenants.a.viewer_username, tenants.password)
    await accepted(client, pair["token"])

    assert output(await run_cli(env, "user", "delete", "--id", str(tenants.a.viewer_id)))["deleted"] is True

    await until_refused(client, pair["token"])
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", tenants.a.viewer_id) == 0
    login = {"username": tenants.a.viewer_username, "password": tenants.password}
    assert (await client.post("/authentication/login_check", json=login)).status_code == 401
    refresh = await client.post(
        "/authentication/token/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refresh.status_code == 401
    missing = await run_cli(env, "user", "delete", "--id", str(tenants.a.viewer_id), expect=1)
    assert "there is no user" in missing.stderr


async def test_changing_a_users_role(client: Client, tenants: Tenants, env: dict[str, str]) -> None:
    owner = await log_in(client, tenants.a.owner_username, tenants.password)
    new_client = {"name": "Stamford", "website": "https://stamford.example"}
    created = await client.post("/api/clients", json=new_client, headers=bearer(owner["token"]))
    assert created.status_code == 201

    result = await run_cli(env, "user", "set-role", "--id", str(tenants.a.owner_id), "--role", "viewer")

    assert output(result) == {"id": str(tenants.a.owner_id), "role": "viewer", "tokensRevoked": True}
    await until_refused(client, owner["token"])
    refresh = await client.post(
        "/authentication/token/refresh", json={"refresh_token": owner["refresh_token"]}
    )
    assert refresh.status_code == 401
    # A new log-in (a few seconds on: tokens stamped up to the revocation, and a margin for clock skew,
    # count as revoked) is a viewer's, which may read and not write.
    deadline = time.monotonic() + 15
    while True:
        viewer = await log_in(client, tenants.a.owner_username, tenants.password)
        if (await client.get("/api/clients", headers=bearer(viewer["token"]))).status_code == 200:
            break
        assert time.monotonic() < deadline, "a token minted after the role change is still refused"
        await asyncio.sleep(0.2)
    denied = await client.post("/api/clients", json=new_client, headers=bearer(viewer["token"]))
    assert denied.status_code == 403


async def test_setting_the_same_role_revokes_nothing(
    client: Client, tenants: Tenants, env: dict[str, str]
) -> None:
    owner = await log_in(client, tenants.a.owner_username, tenants.password)
    result = await run_cli(env, "user", "set-role", "--id", str(tenants.a.owner_id), "--role", "owner")
    assert output(result)["tokensRevoked"] is False
    await accepted(client, owner["token"])


async def test_a_worker_token(client: Client, env: dict[str, str]) -> None:
    token = output(await run_cli(env, "token", "worker", "--ttl", "600", "--name", "poller"))["token"]
    await accepted(client, token)
    await run_cli(env, "token", "revoke", "--jti", jti_of(token))
    await until_refused(client, token)


async def test_worker_token_lifetime_is_capped(settings: Settings) -> None:
    env = cli_environment(settings)
    week = 7 * 24 * 3600
    refused = await run_cli(env, "token", "worker", "--ttl", str(week + 1), expect=1)
    assert "WORKER_TOKEN_MAX_TTL" in refused.stderr and refused.stdout == ""
    assert output(await run_cli(env, "token", "worker", "--ttl", str(week)))["token"]
    refused = await run_cli(env, "token", "worker", "--ttl", str(100 * 365 * 24 * 3600), expect=1)
    assert "longer than WORKER_TOKEN_MAX_TTL (604800 seconds)" in refused.stderr

    capped = cli_environment(settings, WORKER_TOKEN_MAX_TTL="3600", WORKER_TOKEN_TTL="600")
    assert output(await run_cli(capped, "token", "worker"))["token"]
    await run_cli(capped, "token", "worker", "--ttl", "3601", expect=1)
    # A default above the cap is a configuration error, named at once.
    wrong = await run_cli(cli_environment(settings, WORKER_TOKEN_MAX_TTL="3600"), "token", "worker", expect=2)
    assert "WORKER_TOKEN_MAX_TTL" in wrong.stderr


async def test_revocation_rows_expire_with_the_tokens_they_cover(
    client: Client, tenants: Tenants, env: dict[str, str], db: asyncpg.Connection, settings: Settings
) -> None:
    pair = await log_in(client, tenants.a.owner_username, tenants.password)
    await run_cli(env, "token", "revoke", "--jti", jti_of(pair["token"]))
    lifetime = await db.fetchval("SELECT extract(epoch FROM expires_at - revoked_at) FROM token_revocations")
    longest = max(settings.jwt_ttl, settings.customer_token_ttl, settings.worker_token_max_ttl)
    assert longest < lifetime <= longest + 60
    # Expired rows are swept by the next revocation, and never loaded again.
    await db.execute("UPDATE token_revocations SET expires_at = now() - interval '1 second'")
    await run_cli(env, "token", "revoke", "--user", str(tenants.a.viewer_id))
    assert await db.fetchval("SELECT array_agg(kind) FROM token_revocations") == ["user"]


async def test_the_command_needs_exactly_one_target(env: dict[str, str]) -> None:
    both = await run_cli(
        env, "token", "revoke", "--jti", "a", "--user", "00000000-0000-0000-0000-000000000000", expect=2
    )
    assert "not allowed with" in both.stderr
    await run_cli(env, "token", "revoke", expect=2)


async def test_a_holder_revokes_its_own_token(
    client: Client, tenants: Tenants, db: asyncpg.Connection, token_for: Any
) -> None:
    pair = await log_in(client, tenants.a.owner_username, tenants.password)
    other = await log_in(client, tenants.a.owner_username, tenants.password)
    await accepted(client, pair["token"])

    response = await client.post("/authentication/token/revoke", json={"token": pair["token"]})

    assert response.status_code == 204 and response.content == b""
    await until_refused(client, pair["token"])
    await accepted(client, other["token"])
    # Kept as long as the token could have lived, not longer.
    left = await db.fetchval("SELECT extract(epoch FROM expires_at - now()) FROM token_revocations")
    assert 3600 - 5 < left <= 3600 + 15
    # Nothing to learn from the answer: unknown, expired, revoked again, customer's, all the same.
    expired = token_for(tenants.a.owner, -3600)
    customer = token_for(tenants.a.customer)
    for token in ("garbage", pair["token"], expired, "x" * 8192, customer):
        again = await client.post("/authentication/token/revoke", json={"token": token})
        assert again.status_code == 204
    await until_refused(client, customer)
    assert await db.fetchval("SELECT count(*) FROM token_revocations") == 2


async def test_a_revocation_request_without_a_token_is_400(client: Client) -> None:
    for body in ({}, {"token": None}, {"token": ""}):
        response = await client.post("/authentication/token/revoke", json=body)
        assert response.status_code == 400
        assert response.json()["detail"] == 'The key "token" must be provided.'
    for token in (7, "x" * 8193, "a\x00b"):
        assert (await client.post("/authentication/token/revoke", json={"token": token})).status_code == 400
    wrong_type = await client.post(
        "/authentication/token/revoke", content=b"token=x", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
