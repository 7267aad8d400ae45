"""The audit trail, read from the real log output of the api process and of the command line: every
sensitive action is one `accounts.audit` JSON line naming the caller, and no secret appears anywhere."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from service.auth import audit
from service.auth.principal import Principal
from service.settings import Settings
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import CANARY, new_account
from tests.integration.api_process import ApiProcess, api_environment
from tests.security.revocation_support import bearer, cli_environment, jti_of, output, run_cli

IDENTITY = ("principal", "role", "organization", "client", "jti", "address")
LOOPBACK = "127.0.0.1"


def audit_lines(lines: list[str]) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return [entry for entry in entries if entry["logger"] == "accounts.audit"]


def only(entries: list[dict[str, Any]], event: str, **fields: Any) -> dict[str, Any]:
    """The one audit line of `event` whose fields include `fields`."""
    found = [e for e in entries if e["event"] == event and fields.items() <= e.items()]
    assert len(found) == 1, (event, fields, [e for e in entries if e["event"] == event])
    entry = found[0]
    assert entry["message"] == event and set(IDENTITY) <= entry.keys()
    return entry


async def _wait_for(api: ApiProcess, count: int) -> list[dict[str, Any]]:
    """The process's audit lines once `count` of them were written (logging is asynchronous to us)."""
    for _ in range(200):
        entries = audit_lines(list(api.lines))
        if len(entries) >= count:
            return entries
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} audit lines, got:\n" + "\n".join(api.lines))


async def test_every_sensitive_action_is_audited_without_secrets(
    settings: Settings, tenants: Tenants, token_for: Callable[[Principal], str]
) -> None:
    api = ApiProcess(api_environment(settings, LOG_LEVEL="INFO", LOGIN_MAX_FAILURES="2"))
    secrets: list[str] = [tenants.password, tenants.a.api_key, CANARY]
    try:
        await asyncio.to_thread(api.wait_ready)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            secrets += await _act(http, tenants, token_for)
            entries = await _wait_for(api, 14)
    finally:
        api.stop()
    owner, a = str(tenants.a.owner_id), tenants.a
    org = str(a.organization_id)

    logins = [e for e in entries if e["event"] == "login.succeeded"]
    assert len(logins) == 2
    for succeeded in logins:
        expected = (owner, "ROLE_OWNER", org, None, None, LOOPBACK)
        assert tuple(succeeded[field] for field in IDENTITY) == expected
    minted_at_login = [
        e["issued_jti"] for e in entries if e["event"] == "token.minted" and e["kind"] == "login"
    ]
    assert len(minted_at_login) == 2
    failed = [e for e in entries if e["event"] == "login.failed"]
    locked = only(entries, "login.locked_out")
    assert len(failed) == 2
    for entry in [*failed, locked]:
        assert (entry["principal"], entry["address"]) == (None, LOOPBACK)
        assert entry["username_digest"] == audit.username_digest(tenants.a.viewer_username)

    refreshed = only(entries, "token.minted", kind="refresh")
    assert refreshed["principal"] == owner and refreshed["issued_principal"] == owner
    customer = only(entries, "token.minted", kind="customer")
    assert customer["principal"] == f"api-key/{a.api_key_id}" and customer["key_id"] == str(a.api_key_id)
    assert (customer["issued_principal"], customer["organization"]) == ("pam", org)
    assert customer["issued_client"] == str(a.client_ids[0])
    reuse = only(entries, "token.revoked", kind="family")
    assert reuse["reason"] == "refresh token reused" and reuse["address"] == LOOPBACK

    read = only(entries, "credentials.read")
    assert (read["principal"], read["role"], read["organization"]) == ("worker", "ROLE_WORKER", None)
    assert read["jti"] and read["address"] == LOOPBACK and read["account"]
    removed = only(entries, "account.deleted", account=read["account"])
    assert (removed["principal"], removed["role"], removed["organization"]) == (owner, "ROLE_OWNER", org)
    assert removed["jti"] == minted_at_login[1]
    by_customer = only(entries, "client.deleted", deleted_client=str(a.client_ids[1]))
    assert by_customer["principal"] == owner
    logged_out = only(entries, "token.revoked", kind="jti")
    assert (logged_out["principal"], logged_out["jti"], logged_out["revoked"]) == (
        owner, minted_at_login[1], minted_at_login[1]
    )  # fmt: skip
    assert logged_out["reason"] == "revoked by its holder"

    cli_lines = await _operate(settings, tenants, secrets)
    output_text = "\n".join(api.lines + cli_lines)
    for secret in secrets:
        assert secret not in output_text


async def _act(http: httpx.AsyncClient, tenants: Tenants, token_for: Callable[[Principal], str]) -> list[str]:
    """Log in, fail, get locked out, refresh, reuse a refresh token, mint a customer token, read
    credentials as a worker, delete an account and a client; the secrets seen on the way."""
    a = tenants.a
    credentials = {"username": a.owner_username, "password": tenants.password}
    pair = (await http.post("/authentication/login_check", json=credentials)).json()
    for _ in range(3):  # two failures, then a lockout
        wrong = {"username": a.viewer_username, "password": "wrong-" + tenants.password}
        assert (await http.post("/authentication/login_check", json=wrong)).status_code in (401, 429)
    rotated = await http.post("/authentication/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    reused = await http.post("/authentication/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401
    minted = await http.post(
        "/api/tokens",
        json={"client": f"/api/clients/{a.client_ids[0]}", "subject": "pam"},
        headers={"X-API-KEY": a.api_key},
    )
    assert minted.status_code == 201

    # The first log-in's access token went with its family: a second log-in does the rest.
    fresh = (await http.post("/authentication/login_check", json=credentials)).json()["token"]
    created = await http.post("/api/accounts", json=new_account(a), headers=bearer(fresh))
    assert created.status_code == 201, created.text
    path = f"/api/accounts/{created.json()['id']}"
    worker = token_for(WORKER)
    assert (await http.get(f"{path}/credentials", headers=bearer(worker))).status_code == 200
    assert (await http.delete(path, headers=bearer(fresh))).status_code == 204
    assert (await http.delete(f"/api/clients/{a.client_ids[1]}", headers=bearer(fresh))).status_code == 204
    assert (await http.post("/authentication/token/revoke", json={"token": fresh})).status_code == 204
    rotated_pair = rotated.json()
    return [pair["token"], pair["refresh_token"], fresh, rotated_pair["token"], rotated_pair["refresh_token"],
            minted.json()["token"], worker, "wrong-" + tenants.password]  # fmt: skip


async def _operate(settings: Settings, tenants: Tenants, secrets: list[str]) -> list[str]:
    """The command line's audited actions, checked line by line; its standard error lines."""
    env = cli_environment(settings, LOG_LEVEL="INFO")
    a = tenants.a
    lines: list[str] = []

    async def run(*args: str) -> tuple[Any, dict[str, Any]]:
        result = await run_cli(env, *args)
        lines.extend(result.stderr.splitlines())
        [entry] = audit_lines(result.stderr.splitlines())
        assert entry["principal"] == "command-line" and set(IDENTITY) <= entry.keys()
        return output(result), entry

    minted, entry = await run("token", "worker", "--ttl", "600", "--name", "poller")
    secrets.append(minted["token"])
    assert (entry["event"], entry["kind"], entry["issued_principal"]) == ("token.minted", "worker", "poller")
    assert entry["issued_jti"] == jti_of(minted["token"])
    _, entry = await run("token", "revoke", "--jti", jti_of(minted["token"]))
    assert (entry["event"], entry["kind"], entry["revoked"]) == (
        "token.revoked",
        "jti",
        jti_of(minted["token"]),
    )
    _, entry = await run("api-key", "revoke", "--id", str(a.api_key_id))
    assert (entry["event"], entry["kind"], entry["revoked"]) == (
        "token.revoked",
        "api_key",
        str(a.api_key_id),
    )
    _, entry = await run("token", "revoke", "--user", str(a.viewer_id))
    assert (entry["kind"], entry["revoked"]) == ("user", str(a.viewer_id))
    _, entry = await run("user", "set-role", "--id", str(a.owner_id), "--role", "viewer")
    assert (entry["event"], entry["user"], entry["previous_role"], entry["user_role"]) == (
        "user.role_changed", str(a.owner_id), "ROLE_OWNER", "ROLE_VIEWER"
    )  # fmt: skip
    _, entry = await run("user", "delete", "--id", str(a.viewer_id))
    assert (entry["event"], entry["user"], entry["user_organization"]) == (
        "user.deleted", str(a.viewer_id), str(a.organization_id)
    )  # fmt: skip
    return lines
