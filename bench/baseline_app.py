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

from service.accounts.representation import snapshot
from service.db.pool import init_connection, keep_session
from service.db.sql import load_queries
from service.events.outbox import CHANNEL

_SQL = load_queries("service.accounts", "queries.sql")
_SELECT = _SQL["get_account"]
_UPDATE = _SQL["update_account"]
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
    row = await _pool.fetchrow(_SELECT, account_id, None, None)
    if row is None:
        return Response(b"{}", status_code=404, media_type="application/json")
    return Response(_encode(dict(row.items())), media_type="application/json")


@post("/write/{account_id:uuid}", status_code=200)
async def write(account_id: uuid.UUID) -> Response[bytes]:
    assert _pool is not None
    async with _pool.acquire() as connection:
        row = await connection.fetchrow(_SELECT, account_id, None, None)
        if row is None:
            return Response(b"{}", status_code=404, media_type="application/json")
        headline = uuid.uuid4().hex
        payload = snapshot({**row, "headline": headline}) | {"changes": ["headline"]}
        columns = ("name", "headline", "avatar", "external_id", "settings", "metadata")
        values = {**row, "headline": headline}
        written = await connection.fetchrow(
            _UPDATE,
            account_id,
            row["version"],
            *(values[column] for column in columns),
            None,
            None,
            row["status"],
            row["status_reason"],
            uuid.uuid4(),
            payload,
            CHANNEL,
        )
    if written is None:
        return Response(b"{}", status_code=409, media_type="application/json")
    return Response(b'{"ok":true}', media_type="application/json")


app = Litestar(route_handlers=[item, write], lifespan=[_lifespan], logging_config=None, debug=False)
