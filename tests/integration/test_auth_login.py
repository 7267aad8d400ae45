from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import jwt
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.identity import PASSWORD, Tenants

Client = AsyncTestClient
LOGIN = "/authentication/login_check"
REFRESH = "/authentication/token/refresh"
INVALID = {"code": 401, "message": "Invalid credentials."}


async def _login(client: Any, username: str, password: str = PASSWORD) -> Any:
    return await client.post(LOGIN, json={"username": username, "password": password})


async def test_login_returns_a_token_and_a_refresh_token(client: Client, tenants: Tenants) -> None:
    response = await _login(client, tenants.a.owner_username)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "refresh_token"}
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == str(tenants.a.owner_id)
    assert claims["org"] == str(tenants.a.organization_id)
    assert claims["roles"] == ["ROLE_OWNER"]
    assert claims["exp"] - claims["iat"] == 3600


async def test_username_is_case_insensitive(client: Client, tenants: Tenants) -> None:
    assert (await _login(client, tenants.a.viewer_username.upper())).status_code == 200


async def test_wrong_password_and_unknown_user_fail_identically(client: Client, tenants: Tenants) -> None:
    wrong_password = await _login(client, tenants.a.owner_username, "not the password")
    unknown_user = await _login(client, "nobody-at-all", PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert response.json() == INVALID
    assert wrong_password.headers.get("content-type") == unknown_user.headers.get("content-type")


@pytest.mark.parametrize(
    ("body", "status"),
    [({"username": "x"}, 400), ({"password": "x"}, 400), ({"username": 1, "password": "x"}, 400)],
)
async def test_malformed_login_is_400(client: Client, body: dict[str, Any], status: int) -> None:
    assert (await client.post(LOGIN, json=body)).status_code == status


async def test_login_needs_json(client: Client) -> None:
    response = await client.post(
        LOGIN, content=b"username=a&password=b", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415


async def test_repeated_failures_for_a_username_are_throttled(
    client: Client, tenants: Tenants, db: asyncpg.Connection
) -> None:
    for _ in range(5):
        assert (await _login(client, tenants.a.owner_username, "guess")).status_code == 401
    throttled = await _login(client, tenants.a.owner_username, PASSWORD)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 900
    assert throttled.json()["status"] == 429
    # Other users are not affected, and the window running out lets the user in again.
    assert (await _login(client, tenants.a.viewer_username)).status_code == 200
    await db.execute("UPDATE login_failures SET window_start = window_start - interval '16 minutes'")
    assert (await _login(client, tenants.a.owner_username)).status_code == 200


async def test_unknown_usernames_are_throttled_like_known_ones(client: Client, tenants: Tenants) -> None:
    statuses = [(await _login(client, "nobody", "guess")).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


async def test_a_successful_login_resets_the_username_count(client: Client, tenants: Tenants) -> None:
    for _ in range(4):
        await _login(client, tenants.a.owner_username, "guess")
    assert (await _login(client, tenants.a.owner_username)).status_code == 200
    for _ in range(4):
        assert (await _login(client, tenants.a.owner_username, "guess")).status_code == 401


@pytest.fixture
async def strict_client(settings: Settings) -> AsyncIterator[Client]:
    strict = msgspec.structs.replace(settings, login_max_failures_per_address=3)
    async with AsyncTestClient(app=create_app(strict)) as test_client:
        yield test_client


async def test_repeated_failures_from_one_address_are_throttled(
    strict_client: Client, tenants: Tenants
) -> None:
    for username in ("u1", "u2", "u3"):
        assert (await _login(strict_client, username, "guess")).status_code == 401
    response = await _login(strict_client, tenants.b.owner_username)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1


async def test_refresh_rotates_and_reuse_revokes_the_family(client: Client, tenants: Tenants) -> None:
    first = (await _login(client, tenants.a.viewer_username)).json()["refresh_token"]
    rotated = await client.post(REFRESH, json={"refresh_token": first})
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    claims = jwt.decode(rotated.json()["token"], options={"verify_signature": False})
    assert claims["roles"] == ["ROLE_VIEWER"]

    third = (await client.post(REFRESH, json={"refresh_token": second})).json()["refresh_token"]
    # The spent first token comes back: someone else holds it, so the whole family dies.
    reuse = await client.post(REFRESH, json={"refresh_token": first})
    assert reuse.status_code == 401
    assert reuse.json() == {"code": 401, "message": "Invalid JWT Refresh Token"}
    assert (await client.post(REFRESH, json={"refresh_token": third})).status_code == 401


async def test_families_are_independent(client: Client, tenants: Tenants) -> None:
    laptop = (await _login(client, tenants.a.owner_username)).json()["refresh_token"]
    phone = (await _login(client, tenants.a.owner_username)).json()["refresh_token"]
    await client.post(REFRESH, json={"refresh_token": laptop})
    await client.post(REFRESH, json={"refresh_token": laptop})  # reuse: the laptop family is revoked
    assert (await client.post(REFRESH, json={"refresh_token": phone})).status_code == 200


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}, {"refresh_token": "made-up"}])
async def test_unknown_refresh_token_is_refused(client: Client, body: dict[str, str]) -> None:
    response = await client.post(REFRESH, json=body)
    assert response.status_code == 401
    assert response.json()["code"] == 401


async def test_expired_refresh_token_is_refused(
    client: Client, tenants: Tenants, db: asyncpg.Connection
) -> None:
    token = (await _login(client, tenants.a.owner_username)).json()["refresh_token"]
    await db.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
    assert (await client.post(REFRESH, json={"refresh_token": token})).status_code == 401


async def test_refresh_tokens_are_stored_hashed(
    client: Client, tenants: Tenants, db: asyncpg.Connection
) -> None:
    token = (await _login(client, tenants.a.owner_username)).json()["refresh_token"]
    stored = await db.fetch("SELECT token_hash FROM refresh_tokens")
    assert len(stored) == 1 and token.encode() not in bytes(stored[0]["token_hash"])


async def test_a_deleted_user_cannot_refresh(
    client: Client, tenants: Tenants, db: asyncpg.Connection
) -> None:
    token = (await _login(client, tenants.a.viewer_username)).json()["refresh_token"]
    await db.execute("DELETE FROM users WHERE id = $1", tenants.a.viewer_id)
    assert (await client.post(REFRESH, json={"refresh_token": token})).status_code == 401


async def test_access_token_from_login_opens_the_api(client: Client, tenants: Tenants) -> None:
    token = (await _login(client, tenants.a.owner_username)).json()["token"]
    customer = await client.post(
        "/api/tokens",
        json={"client": f"/api/clients/{tenants.a.client_ids[0]}", "subject": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    # Authenticated (not 401), but minting customer tokens takes the organization's API key.
    assert customer.status_code == 403


async def test_nul_in_the_username_is_just_invalid(client: Client, tenants: Tenants) -> None:
    response = await _login(client, "acme-owner\u0000")
    assert response.status_code == 401
    assert response.json() == INVALID


async def test_stronger_argon2_settings_rehash_at_the_next_login(
    settings: Settings, tenants: Tenants, db: asyncpg.Connection
) -> None:
    stronger = msgspec.structs.replace(settings, argon2_time_cost=2)
    async with AsyncTestClient(app=create_app(stronger)) as stronger_client:
        assert (await _login(stronger_client, tenants.a.owner_username)).status_code == 200
        stored = await db.fetchval("SELECT password_hash FROM users WHERE id = $1", tenants.a.owner_id)
        assert ",t=2," in stored
        # The new hash still opens the door.
        assert (await _login(stronger_client, tenants.a.owner_username)).status_code == 200
