"""Baselines B1 and B2: bare Litestar endpoints doing the service's database work, and nothing else.

B1 `GET /item/{id}`: the same primary-key SELECT as `GET /api/accounts/{id}`, no auth, no envelope.
B2 `POST /write/{id}`: the same write as a PATCH, with the service's own statements: read the account,
then update it with its outbox event (and the NOTIFY that wakes the relay) guarded by the version read;
no auth, no validation, no envelope. Served by uvicorn with the service's worker count.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import msgspec
from litestar import Litestar, Response, get, post

from service.accounts import queries
from service.accounts.representation import event_payload
from service.db.pool import init_connection, keep_session

_encode = msgspec.json.Encoder().encode
_pool: asyncpg.Pool | None = None


@asynccontextmanager
async def _lifespan(_: Litestar) -> AsyncIterator[None]:
    global _pool
    _pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
        max_size=int(os.environ.get("DB_POOL_MAX_SIZE", "10")),
        init=init_connection,
        reset=keep_session,
    )
    try:
        yield
    finally:
        await _pool.close()


@get("/item/{account_id:uuid}")
async def item(account_id: uuid.UUID) -> Response[bytes]:
    assert _pool is not None
    row = await queries.get_account(_pool, account_id=account_id, organization_id=None, client_id=None)
    if row is None:
        return Response(b"{}", status_code=404, media_type="application/json")
    return Response(_encode(dict(row.items())), media_type="application/json")


@post("/write/{account_id:uuid}", status_code=200)
async def write(account_id: uuid.UUID) -> Response[bytes]:
    assert _pool is not None
    async with _pool.acquire() as connection:
        row = await queries.get_account(
            connection, account_id=account_id, organization_id=None, client_id=None
        )
        if row is None:
            return Response(b"{}", status_code=404, media_type="application/json")
        values = {**row, "headline": uuid.uuid4().hex}
        written = await queries.update_account(
            connection,
            account_id=account_id,
            expected_version=row["version"],
            values=values,
            sealed_credentials=None,
            event={**event_payload(values), "changes": ["headline"]},
        )
    if written is None:
        return Response(b"{}", status_code=409, media_type="application/json")
    return Response(b'{"ok":true}', media_type="application/json")


app = Litestar(route_handlers=[item, write], lifespan=[_lifespan], logging_config=None, debug=False)
