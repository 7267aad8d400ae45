"""Shared pieces of the revocation tests: the real command line, logging in, polling for a refusal."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import httpx
import jwt

from service.settings import Settings

REVOKED = {"code": 401, "message": "Invalid JWT Token"}
# How long a revocation may take (the contract's bound); NOTIFY makes it far shorter in practice.
BOUND_SECONDS = 60.0


def cli_environment(settings: Settings, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "JWT_", "ARGON2_"))}
    return keep | {
        "DATABASE_URL": settings.database_url,
        "JWT_PRIVATE_KEY": settings.jwt_private_key,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "ARGON2_PARALLELISM": "1",
        **extra,
    }


async def run_cli(env: Mapping[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """`accounts-service ARGS…` as an operator runs it, off the event loop."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service", *args],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=60,
        )

    result = await asyncio.to_thread(run)
    assert result.returncode == expect, (result.returncode, result.stdout, result.stderr)
    return result


def output(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def jti_of(token: str) -> str:
    jti: str = jwt.decode(token, options={"verify_signature": False})["jti"]
    return jti


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


async def log_in(http: Any, username: str, password: str) -> dict[str, str]:
    response = await http.post(
        "/authentication/login_check", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


async def until_refused(
    http: Any, token: str, path: str = "/api/accounts", within: float = BOUND_SECONDS
) -> float:
    """Poll until the token is refused as revoked; the seconds it took (failing past `within`)."""
    started = time.monotonic()
    while True:
        response: httpx.Response = await http.get(path, headers=bearer(token))
        if response.status_code == 401:
            assert response.json() == REVOKED
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < within, f"the token was still accepted after {within} s"
        await asyncio.sleep(0.05)


async def accepted(http: Any, token: str, path: str = "/api/accounts") -> None:
    response = await http.get(path, headers=bearer(token))
    assert response.status_code == 200, response.text
