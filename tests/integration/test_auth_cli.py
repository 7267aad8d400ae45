"""The ops quick-start, end to end: provision from the command line, log in, mint a customer token."""

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import asyncpg
import jwt
import pytest
from litestar.testing import AsyncTestClient

from service.auth.tokens import TokenService
from service.settings import Settings

Client = AsyncTestClient
CHEAP_ARGON2 = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1"}


@pytest.fixture
def cli(settings: Settings) -> Any:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "JWT_", "ARGON2_"))
    }
    environment |= {"DATABASE_URL": settings.database_url, "JWT_PRIVATE_KEY": settings.jwt_private_key}
    environment |= CHEAP_ARGON2

    def run(*args: str, stdin: str | None = None, expect: int = 0, raw: bool = False) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "service", *args],
            input=stdin,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if raw:
            return result
        assert result.returncode == expect, result.stderr
        return json.loads(result.stdout) if expect == 0 else result

    return run


async def test_quick_start(cli: Any, client: Client, db: asyncpg.Connection) -> None:
    org = cli("org", "create", "--name", "Dunder Mifflin")
    assert set(org) == {"id", "apiKey"}
    user = cli(
        "user", "create", "--org", org["id"], "--username", "michael", "--role", "owner",
        "--password-stdin", stdin="that's what she said\n",
    )  # fmt: skip
    assert set(user) == {"id"}

    login = await client.post(
        "/authentication/login_check", json={"username": "michael", "password": "that's what she said"}
    )
    assert login.status_code == 200
    owner = {"Authorization": f"Bearer {login.json()['token']}"}
    created = await client.post("/api/clients", json={"name": "Scranton"}, headers=owner)
    assert created.status_code == 201

    minted = await client.post(
        "/api/tokens",
        json={"client": created.json()["@id"], "subject": "pam"},
        headers={"X-API-KEY": org["apiKey"]},
    )
    assert minted.status_code == 201
    # The password and the key were stored hashed only.
    stored = await db.fetchrow("SELECT password_hash FROM users WHERE id = $1", uuid.UUID(user["id"]))
    assert stored["password_hash"].startswith("$argon2id$")
    assert org["apiKey"].encode() not in bytes(await db.fetchval("SELECT key_hash FROM api_keys"))


@pytest.mark.parametrize("source", ["--password-stdin", "--password"])
def test_password_is_never_echoed(cli: Any, source: str) -> None:
    org = cli("org", "create", "--name", "Echo")
    secret = "a secret nobody sees"
    args = ["user", "create", "--org", org["id"], "--username", "echo", "--role", "viewer", source]
    if source == "--password":
        args.append(secret)
    result = cli(*args, stdin=secret if source == "--password-stdin" else None, raw=True)
    assert result.returncode == 0
    assert set(json.loads(result.stdout)) == {"id"}
    assert secret not in result.stdout + result.stderr


def test_user_create_needs_exactly_one_password_source(cli: Any) -> None:
    org = cli("org", "create", "--name", "Acme")
    neither = cli("user", "create", "--org", org["id"], "--username", "u", "--role", "owner", expect=1)
    assert "exactly one of --password-stdin or --password" in neither.stderr
    assert neither.stdout == ""


def test_provisioning_errors_are_one_line_without_secrets(cli: Any) -> None:
    org = cli("org", "create", "--name", "Acme")
    args = (
        "user",
        "create",
        "--org",
        org["id"],
        "--username",
        "dwight",
        "--role",
        "viewer",
        "--password-stdin",
    )
    cli(*args, stdin="beets bears battlestar")
    taken = cli(*args, stdin="beets bears battlestar", expect=1)
    assert taken.stderr.strip() == "error: the username 'dwight' is taken"
    assert "beets" not in taken.stderr + taken.stdout
    short = cli(
        *args[:-3], "--username", "jim", "--role", "viewer", "--password-stdin", stdin="short", expect=1
    )
    assert short.stderr.strip() == "error: the password must be 8 to 4096 characters"
    missing = cli("user", "create", "--org", str(uuid.uuid4()), "--username", "x", "--role", "owner",
                  "--password", "long enough", expect=1)  # fmt: skip
    assert missing.stderr.strip().startswith("error: there is no organization")
    bad_role = cli("user", "create", "--org", org["id"], "--username", "x", "--role", "admin", "--password",
                   "long enough", expect=2)  # fmt: skip
    assert "invalid choice" in bad_role.stderr


async def test_api_key_lifecycle(cli: Any, client: Client) -> None:
    org = cli("org", "create", "--name", "Keys")
    second = cli("api-key", "create", "--org", org["id"])
    listed = cli("api-key", "list", "--org", org["id"])
    assert [k["id"] for k in listed][1] == second["id"]
    assert all(k["revokedAt"] is None for k in listed)
    assert "apiKey" not in json.dumps(listed) and second["apiKey"] not in json.dumps(listed)

    assert (await client.get("/api/clients", headers={"X-API-KEY": second["apiKey"]})).status_code == 200
    revoked = cli("api-key", "revoke", "--id", second["id"])
    assert revoked["id"] == second["id"] and revoked["revokedAt"]
    refused = await client.get("/api/clients", headers={"X-API-KEY": second["apiKey"]})
    assert refused.status_code == 401
    assert refused.json() == {"code": 401, "message": "Invalid credentials."}
    # The organization's other key keeps working.
    assert (await client.get("/api/clients", headers={"X-API-KEY": org["apiKey"]})).status_code == 200


def test_worker_token(cli: Any, settings: Settings) -> None:
    minted = cli("token", "worker", "--ttl", "120")
    principal = TokenService.from_settings(settings).verify(minted["token"])
    assert principal.is_worker and principal.organization_id is None
    claims = jwt.decode(minted["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120
    assert minted["expiresAt"].endswith("+00:00")


def test_unreachable_database_is_one_line() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "service", "org", "create", "--name", "Nowhere"],
        env=environment | {"DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: the database cannot be used:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "secret" not in result.stderr
