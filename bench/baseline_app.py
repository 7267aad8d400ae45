"""Baselines B1 and B2: bare Litestar endpoints doing the service's database work, and nothing else.

B1 `GET /item/{id}`: the same primary-key SELECT as `GET /api/accounts/{id}`, no auth, no envelope.
B2 `POST /write/{id}`: the same write transaction as a PATCH (update the row, insert the outbox event,
commit), no auth, no validation, no envelope. Served by uvicorn with the service's worker count.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import msgspec
from litestar import Litestar, Response, get, post

_SELECT = """
SELECT a.id, a.organization_id, a.client_id, a.integration, a.provider, a.type, a.name, a.headline,
       a.avatar, a.external_id, a.status, a.status_reason, a.settings, a.metadata, a.version,
       a.created_at, a.updated_at
FROM accounts a WHERE a.id = $1 AND a.deleted_at IS NULL
"""
_UPDATE = """
UPDATE accounts SET headline = $2, version = version + 1, updated_at = now()
WHERE id = $1 AND deleted_at IS NULL
RETURNING id, organization_id, client_id, version, row_to_json(accounts.*)::jsonb - 'credentials' AS payload
"""
_OUTBOX = """
INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id, account_version, payload)
VALUES ($1, 'account.updated', $2, $3, $4, $5, $6::jsonb)
"""
_encode = msgspec.json.Encoder().encode
_pool: asyncpg.Pool | None = None


async def _no_reset(_: asyncpg.Connection) -> None:
    """No reset query on release, as in the service's pool: like is compared with like."""


@asynccontextmanager
async def _lifespan(_: Litestar) -> AsyncIterator[None]:
    global _pool
    _pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
        max_size=int(os.environ.get("DB_POOL_MAX_SIZE", "10")),
        reset=_no_reset,
    )
    try:
        yield
    finally:
        await _pool.close()


@get("/item/{account_id:uuid}")
async def item(account_id: uuid.UUID) -> Response[bytes]:
    assert _pool is not None
    row = await _pool.fetchrow(_SELECT, account_id)
    if row is None:
        return Response(b"{}", status_code=404, media_type="application/json")
    return Response(_encode(dict(row.items())), media_type="application/json")


@post("/write/{account_id:uuid}", status_code=200)
async def write(account_id: uuid.UUID) -> Response[bytes]:
    assert _pool is not None
    async with _pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(_UPDATE, account_id, uuid.uuid4().hex)
        if row is None:
            return Response(b"{}", status_code=404, media_type="application/json")
        await connection.execute(
            _OUTBOX,
            uuid.uuid4(),
            row["id"],
            row["organization_id"],
            row["client_id"],
            row["version"],
            row["payload"],
        )
    return Response(b'{"ok":true}', media_type="application/json")


app = Litestar(route_handlers=[item, write], lifespan=[_lifespan], logging_config=None, debug=False)
