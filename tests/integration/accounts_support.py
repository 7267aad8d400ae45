"""Shared helpers of the accounts API tests: callers, request bodies, and reading the outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from litestar.testing import AsyncTestClient

from service.auth.principal import Principal
from service.settings import Settings
from tests.identity import Tenant
from tests.integration.api_process import ApiProcess, api_environment

# Never allowed to appear in a response, an event or a log line.
CANARY = "canary-credential-5b8f0e2d"
JSONLD = "application/ld+json"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$"


def client_iri(tenant: Tenant, index: int = 0) -> str:
    return f"/api/clients/{tenant.client_ids[index]}"


def new_account(tenant: Tenant | None = None, index: int = 0, **fields: Any) -> dict[str, Any]:
    """A valid WhatsApp account body (owner form when a tenant is given, customer form otherwise)."""
    body: dict[str, Any] = {
        "name": "Michael Scott",
        "headline": "Regional Manager at Dunder Mifflin",
        "avatar": "https://example.com/avatars/michael_scott.png",
        "integration": "/api/integrations/whatsapp",
        "externalId": "+15555550100",
        "settings": {"receive": True, "send": True},
        "credentials": {"phoneNumberId": "1098765432", "accessToken": CANARY},
    }
    if tenant is not None:
        body["client"] = client_iri(tenant, index)
    body.update(fields)
    return {key: value for key, value in body.items() if value is not ...}


@dataclass
class Api:
    """The test client plus bearer tokens for the callers of the two tenants."""

    http: AsyncTestClient  # type: ignore[type-arg]
    token_for: Callable[..., str]

    def headers(self, who: Principal, accept: str = JSONLD, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(who)}", "Accept": accept, **extra}

    async def create(
        self, who: Principal, body: dict[str, Any], accept: str = JSONLD, **extra: str
    ) -> httpx.Response:
        return await self.http.post("/api/accounts", json=body, headers=self.headers(who, accept, **extra))

    async def created(self, who: Principal, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.create(who, body, JSON)
        assert response.status_code == 201, response.text
        document: dict[str, Any] = response.json()
        return document

    async def get(self, who: Principal, path: str, accept: str = JSONLD, **extra: str) -> httpx.Response:
        return await self.http.get(path, headers=self.headers(who, accept, **extra))

    async def patch(
        self,
        who: Principal,
        path: str,
        body: Any,
        accept: str = JSONLD,
        content_type: str = MERGE_PATCH,
        **extra: str,
    ) -> httpx.Response:
        headers = self.headers(who, accept, **extra) | {"Content-Type": content_type}
        content = body if isinstance(body, bytes) else httpx_json(body)
        return await self.http.patch(path, content=content, headers=headers)

    async def delete(self, who: Principal, path: str, **extra: str) -> httpx.Response:
        return await self.http.delete(path, headers=self.headers(who, **extra))


def httpx_json(value: Any) -> bytes:
    return json.dumps(value).encode()


async def outbox(db: asyncpg.Connection, account_id: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows in commit order (payload decoded), optionally of one account."""
    rows = await db.fetch(
        "SELECT event_type, account_id, organization_id, client_id, account_version, payload::text AS payload"
        " FROM outbox WHERE $1::uuid IS NULL OR account_id = $1::uuid ORDER BY position",
        account_id,
    )
    return [dict(row) | {"payload": json.loads(row["payload"])} for row in rows]



@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real `accounts-service api` process on a free port, for requests that must run concurrently
    (the in-process test client serves one request at a time)."""
    process = ApiProcess(api_environment(settings))
    try:
        await asyncio.to_thread(process.wait_ready)
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as http:
            yield http
    finally:
        process.stop()


async def wait_for_lock_waiters(db: asyncpg.Connection, count: int) -> None:
    """Until `count` backends wait on a lock (PostgreSQL's own view, not a guess by sleeping)."""
    for _ in range(500):
        if await db.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted") >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} requests never reached the lock")
