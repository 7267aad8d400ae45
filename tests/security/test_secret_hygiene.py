"""A canary credential taken through the running service (api and relay as real processes, logging at
DEBUG): it comes back only to a worker reading the account's credentials, and appears in no other
response or error body, no log line of either process, no record (key, value, header) of either Kafka
topic, and nowhere in the database but as AES-GCM ciphertext that opens only for its own account."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from service.app import MAX_BODY_BYTES
from service.crypto import CredentialCipher, CredentialsUnreadable, Sealed
from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import count_at_least, event_settings, read_topic, wait_until
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import new_account
from tests.integration.api_process import ApiProcess, RelayProcess, api_environment, relay_environment

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")

CANARY = f"canary-{secrets.token_hex(12)}"
REPLACEMENT = f"replaced-{CANARY}"
FORMS = (
    CANARY.encode(),
    CANARY.encode().hex().encode(),  # bytea shown as text
    base64.b64encode(CANARY.encode()).rstrip(b"="),
    CANARY.encode("utf-16-le"),
)


def _leaks(data: bytes | str) -> bool:
    raw = data.encode() if isinstance(data, str) else data
    return any(form in raw for form in FORMS)


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), 16 * 1024):
        yield content[start : start + 16 * 1024]


def _credentials(token: str = CANARY) -> dict[str, str]:
    return {"phoneNumberId": "1098765432", "accessToken": token}


async def _traffic(http: httpx.AsyncClient, tenants: Tenants, bearer: Callable[[Any], dict[str, str]]) -> Any:
    """Every kind of request that carries the canary, accepted and refused. Returns (responses, the
    worker's read of the credentials, the account ids)."""
    owner, customer, worker = bearer(tenants.a.owner), bearer(tenants.a.customer), bearer(WORKER)
    json_body = {"Content-Type": "application/json"}
    body = new_account(tenants.a, credentials=_credentials())
    replay = owner | {"Idempotency-Key": "k1"}
    other_key = body | {"credentials": _credentials(REPLACEMENT)}
    unknown_field = body | {"externalId": "+15550003", "credentials": _credentials() | {"password": CANARY}}
    with_nul = body | {"credentials": _credentials(f"{CANARY}\x00")}
    for_customer = new_account(externalId="+15550002", credentials=_credentials())
    too_deep = body | {"metadata": json.loads("[" * 70 + "]" * 70)}
    oversize = json.dumps(body | {"headline": "x" * MAX_BODY_BYTES}).encode()
    truncated = json.dumps(body).encode()[:-3]
    responses = [
        first := await http.post("/api/accounts", json=body, headers=replay),
        await http.post("/api/accounts", json=body, headers=replay),
        await http.post("/api/accounts", json=other_key, headers=replay),
        second := await http.post("/api/accounts", json=for_customer, headers=customer),
        await http.post("/api/accounts", json=unknown_field, headers=owner),
        await http.post("/api/accounts", json=body, headers=owner),  # the external id is taken
        await http.post("/api/accounts", json=with_nul, headers=owner),
        await http.post("/api/accounts", json=too_deep, headers=owner),
        await http.post("/api/accounts", content=oversize, headers=owner | json_body),
        await http.post("/api/accounts", content=truncated, headers=owner | json_body),
        # Without a Content-Length (chunked), the cap is enforced while reading.
        await http.post("/api/accounts", content=_chunks(oversize), headers=owner | json_body),
    ]
    assert [r.status_code for r in responses] == [201, 201, 422, 201, 422, 422, 400, 400, 413, 400, 413], [
        (r.status_code, r.text[:200]) for r in responses
    ]
    account, other = first.json()["id"], second.json()["id"]
    path = f"/api/accounts/{account}"
    merge_patch = {"Content-Type": "application/merge-patch+json"}
    replaced = json.dumps({"credentials": _credentials(REPLACEMENT)}).encode()
    responses += [
        await http.patch(path, content=replaced, headers=owner | merge_patch),
        await http.patch(path, content=replaced, headers=owner | merge_patch | {"If-Match": 'W/"1"'}),
        await http.patch(path, content=b'{"status": "connected"}', headers=worker | merge_patch),
        await http.patch(path, content=replaced, headers=worker | merge_patch),
    ]
    for caller in (owner, customer, bearer(tenants.a.viewer), bearer(tenants.b.owner)):
        responses += [
            await http.get(path, headers=caller),
            await http.get("/api/accounts", headers=caller),
            await http.get(f"{path}/credentials", headers=caller),
        ]
    read = await http.get(f"{path}/credentials", headers=worker | {"Accept": "application/json"})
    responses.append(await http.delete(f"/api/accounts/{other}", headers=customer))
    return responses, read, (account, other)


async def test_the_canary_credential_stays_secret_end_to_end(
    settings: Settings, tenants: Tenants, token_for: Callable[..., str], db: asyncpg.Connection
) -> None:
    mine = event_settings(settings, log_level="DEBUG")
    await ensure_topics(mine)
    api = ApiProcess(api_environment(mine))
    relay = RelayProcess(relay_environment(mine))
    try:
        await asyncio.to_thread(api.wait_ready)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
            responses, read, accounts = await _traffic(
                http, tenants, lambda who: {"Authorization": f"Bearer {token_for(who)}"}
            )
        events = await db.fetchval("SELECT count(*) FROM outbox")
        await wait_until(
            lambda: db.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"), timeout=90
        )
        topics = {
            topic: await read_topic(mine.kafka_bootstrap_servers, topic, count_at_least(minimum))
            for topic, minimum in ((mine.kafka_events_topic, events), (mine.kafka_state_topic, 2))
        }
    finally:
        for process in (api, relay):
            process.terminate()
            await asyncio.to_thread(process.wait_exit, 30)
            process.stop()

    # The canary went in, and its one reader gets it back.
    assert read.status_code == 200 and read.json() == {"credentials": _credentials(REPLACEMENT)}
    assert read.headers["cache-control"] == "no-store"
    for response in responses:
        assert not _leaks(response.text), (response.request.method, response.request.url, response.text)
        assert not _leaks(str(response.headers.raw)), response.request.url
    access = [line for line in api.lines if '"service.access"' in line]
    assert len(access) >= len(responses), "every request is in the access log"
    for process, name in ((api, "api"), (relay, "relay")):
        assert process.lines, f"{name} logged nothing"
        leaking = [line for line in process.lines if _leaks(line)]
        assert not leaking, f"{name} logged the canary: {leaking[:3]}"
    for topic, records in topics.items():
        assert records, topic
        for record in records:
            parts = [record.key or b"", record.value or b"", *(value for _, value in record.headers)]
            assert not any(_leaks(part) for part in parts), (topic, record.key, record.value)
    await _database_holds_only_ciphertext(db, settings, accounts)


async def _database_holds_only_ciphertext(
    db: asyncpg.Connection, settings: Settings, accounts: tuple[str, str]
) -> None:
    tables = [
        row["tablename"]
        for row in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    assert {"accounts", "outbox", "idempotency_keys"} <= set(tables)
    for table in tables:
        for row in await db.fetch(f'SELECT t::text AS row FROM "{table}" t'):
            assert not _leaks(row["row"]), f"{table} holds the canary in the clear: {row['row'][:200]}"
    cipher = CredentialCipher.from_text(settings.credentials_keys)
    stored = await db.fetch(
        "SELECT id, credentials, credentials_key_id FROM accounts WHERE credentials IS NOT NULL ORDER BY id"
    )
    assert [str(row["id"]) for row in stored] == [accounts[0]]  # the removed account's are destroyed
    sealed = Sealed(stored[0]["credentials"], stored[0]["credentials_key_id"])
    assert cipher.open(stored[0]["id"], sealed) == _credentials(REPLACEMENT)
    try:
        cipher.open(uuid.uuid4(), sealed)
    except CredentialsUnreadable:
        pass
    else:
        raise AssertionError("the ciphertext opened for another account")
    assert msgspec.json.encode(_credentials(REPLACEMENT)) not in stored[0]["credentials"]
