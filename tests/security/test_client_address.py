"""Whose address a request has: X-Forwarded-For counts only from FORWARDED_ALLOW_IPS, for the login
throttle and the logs alike; username throttle keys normalise as the user lookup does."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from service.auth.throttle import LoginThrottle
from service.errors import TooManyRequests
from service.settings import Settings, SettingsError, load_settings
from tests.integration.api_process import ApiProcess, api_environment

PER_ADDRESS = 3


def _run(settings: Settings, **env: str) -> Iterator[ApiProcess]:
    process = ApiProcess(api_environment(settings, LOGIN_MAX_FAILURES_PER_ADDRESS=str(PER_ADDRESS), **env))
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def untrusting(settings: Settings) -> Iterator[ApiProcess]:
    """The default: FORWARDED_ALLOW_IPS unset, the loopback peer is the client."""
    yield from _run(settings)


@pytest.fixture
def behind_proxy(settings: Settings) -> Iterator[ApiProcess]:
    yield from _run(settings, FORWARDED_ALLOW_IPS="127.0.0.1")


def _failed_login(http: httpx.Client, forwarded_for: str) -> int:
    """A wrong password for a fresh username, so only the address count can trip."""
    body = {"username": f"nobody-{secrets.token_hex(6)}", "password": "wrong"}
    response = http.post("/authentication/login_check", json=body, headers={"X-Forwarded-For": forwarded_for})
    return response.status_code


def _access_clients(api: ApiProcess) -> set[str]:
    entries = [json.loads(line) for line in api.lines if line.startswith("{")]
    access = [entry for entry in entries if entry["logger"] == "service.access"]
    return {entry["http"]["client"].rsplit(":", 1)[0] for entry in access}


def test_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(untrusting: ApiProcess) -> None:
    with httpx.Client(base_url=untrusting.base_url, timeout=30) as http:
        statuses = [_failed_login(http, f"198.51.100.{attempt}") for attempt in range(PER_ADDRESS + 1)]
    # One address (the peer's) whatever the header says: the attempt after the limit is refused.
    assert statuses == [401] * PER_ADDRESS + [429]
    assert _access_clients(untrusting) == {"127.0.0.1"}


def test_a_trusted_proxy_names_the_client(behind_proxy: ApiProcess) -> None:
    with httpx.Client(base_url=behind_proxy.base_url, timeout=30) as http:
        spread = [_failed_login(http, f"198.51.100.{attempt}") for attempt in range(PER_ADDRESS + 1)]
        one = [_failed_login(http, "203.0.113.7") for _ in range(PER_ADDRESS + 1)]
    assert spread == [401] * (PER_ADDRESS + 1)
    assert one == [401] * PER_ADDRESS + [429]
    assert {"198.51.100.0", "203.0.113.7"} <= _access_clients(behind_proxy)


# Pairs on which Python's str.lower and PostgreSQL's lower() can disagree (which way depends on the
# database's locale; the test asks the database).
SPELLINGS = [
    ("\u00c9LODIE", "\u00e9lodie"),
    ("\u0130STANBUL", "istanbul"),
    ("\u212aELVIN", "kelvin"),
    ("STRASSE", "stra\u00dfe"),
    ("Admin", "aDMIN"),
]


@pytest.mark.parametrize(("tried", "other"), SPELLINGS)
async def test_username_counts_are_shared_exactly_when_the_lookup_finds_one_user(
    conn: asyncpg.Connection, tried: str, other: str
) -> None:
    same_user = await conn.fetchval("SELECT lower($1) = lower($2)", tried, other)
    throttle = LoginThrottle(max_per_username=2, max_per_address=1000, window_seconds=60)
    for _ in range(2):
        await throttle.attempt(conn, tried, "192.0.2.1")
    with pytest.raises(TooManyRequests):
        await throttle.attempt(conn, tried, "192.0.2.1")
    try:
        await throttle.attempt(conn, other, "192.0.2.2")
    except TooManyRequests:
        locked_too = True
    else:
        locked_too = False
    assert locked_too == same_user, f"{tried!r} vs {other!r}: database says same user: {same_user}"


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default() -> None:
    base = {"DATABASE_URL": "postgresql://localhost/x"}
    assert load_settings(base).forwarded_allow_ips == ""
    assert load_settings(base | {"FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.0.2.7,::1"})
    for wrong in ("*", "ingress.local", "10.0.0.0/33"):
        with pytest.raises(SettingsError, match="FORWARDED_ALLOW_IPS"):
            load_settings(base | {"FORWARDED_ALLOW_IPS": wrong})
