"""A credential canary goes through every kind of request and shows up nowhere but at its one reader."""

from __future__ import annotations

import logging

import asyncpg
import httpx
import pytest

from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import CANARY, JSON, Api, new_account

SECOND_CANARY = f"second-{CANARY}"


async def test_credentials_never_appear_in_responses_events_logs_or_clear_columns(
    api: Api, tenants: Tenants, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses: list[httpx.Response] = []
    owner = tenants.a.owner

    created = await api.create(owner, new_account(tenants.a), **{"Idempotency-Key": "canary"})
    responses.append(created)
    path = created.headers["location"]
    responses.append(await api.create(owner, new_account(tenants.a), **{"Idempotency-Key": "canary"}))
    # Rejected requests carrying the canary: unknown credential field, unknown attribute, duplicate.
    bad_credentials = {"phoneNumberId": "1", "accessToken": CANARY, "password": CANARY}
    body = new_account(tenants.a, externalId="2", credentials=bad_credentials)
    responses.append(await api.create(owner, body))
    responses.append(await api.create(owner, new_account(tenants.a, password=CANARY)))
    responses.append(await api.create(owner, new_account(tenants.a)))
    body = new_account(tenants.a, credentials={"accessToken": 7, "x": CANARY})
    responses.append(await api.create(owner, body))
    for who in (owner, tenants.a.viewer, tenants.a.customer, WORKER):
        responses.append(await api.get(who, path))
        responses.append(await api.get(who, "/api/accounts", JSON))
    replacement = {"phoneNumberId": "2", "accessToken": SECOND_CANARY}
    responses.append(await api.patch(owner, path, {"credentials": replacement}))
    wrong = {"accessToken": SECOND_CANARY, "cookie": CANARY}
    responses.append(await api.patch(owner, path, {"credentials": wrong}))
    responses.append(await api.patch(WORKER, path, {"status": "connected", "credentials": replacement}))
    responses.append(await api.patch(WORKER, path, {"status": "error", "statusReason": "login refused"}))
    for who in (owner, tenants.a.viewer, tenants.a.customer, tenants.b.owner):
        responses.append(await api.get(who, f"{path}/credentials"))
    worker_view = await api.get(WORKER, f"{path}/credentials", JSON)
    assert worker_view.json() == {"credentials": replacement}
    responses.append(await api.delete(owner, path))

    assert [r.status_code for r in responses[:6]] == [201, 201, 422, 400, 422, 400]
    for response in responses:
        assert CANARY not in response.text, (response.request.method, response.request.url, response.text)
        assert CANARY not in str(response.headers)
    assert caplog.records, "the requests were expected to log something"
    assert CANARY not in caplog.text
    for table, column in (("outbox", "payload"), ("idempotency_keys", "snapshot"), ("accounts", "metadata")):
        texts = await db.fetch(f"SELECT {column}::text FROM {table}")
        assert texts and all(CANARY not in row[0] for row in texts), table
    leftovers = await db.fetch("SELECT credentials FROM accounts WHERE credentials IS NOT NULL")
    assert leftovers == []
