"""The asyncpg connection pool, with bounded waits at every step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from service.settings import Settings

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


async def init_connection(connection: asyncpg.Connection) -> None:
    """Every pooled connection's set-up (the bench's baselines use it too, to compare like with like)."""
    # jsonb travels as msgspec-encoded bytes in both directions: no json module on the hot path.
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name,
            schema="pg_catalog",
            encoder=lambda value: _json_encode(value).decode(),
            decoder=_json_decode,
            format="text",
        )


async def keep_session(_: asyncpg.Connection) -> None:
    """Release without a reset query: asyncpg has already rolled back any open transaction."""
    # The default reset (advisory unlock, CLOSE ALL, UNLISTEN *, RESET ALL) is one more round trip on
    # every request. Pooled connections never change session state: settings are fixed at connect time,
    # and locks, cursors and SET LOCAL end with their transaction.


async def create_pool(settings: Settings, **overrides: Any) -> asyncpg.Pool:
    """Open the pool with server-side timeouts so no statement or idle transaction runs forever."""
    options: dict[str, Any] = {
        "dsn": settings.database_url,
        "min_size": settings.db_pool_min_size,
        "max_size": settings.db_pool_max_size,
        "timeout": settings.db_acquire_timeout,
        "command_timeout": settings.db_statement_timeout_ms / 1000 + 1,
        "max_inactive_connection_lifetime": 300.0,
        "init": init_connection,
        "reset": keep_session,
        "server_settings": {
            "application_name": "accounts-service",
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "idle_in_transaction_session_timeout": str(settings.db_idle_in_transaction_timeout_ms),
        },
    }
    options.update(overrides)
    return await asyncpg.create_pool(**options)


class Database:
    """The pool plus the acquire timeout every caller must respect.

    Built before the pool exists (`from_settings`), so every part of the app can hold it from the
    start; `open` creates the pool when the app starts serving.
    """

    def __init__(
        self, pool: asyncpg.Pool | None, acquire_timeout: float, settings: Settings | None = None
    ) -> None:
        self._pool = pool
        self.acquire_timeout = acquire_timeout
        self._settings = settings

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(None, settings.db_acquire_timeout, settings)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open")
        return self._pool

    @property
    def is_open(self) -> bool:
        return self._pool is not None and not self._pool.is_closing()

    async def open(self) -> None:
        """Create the pool, or a new one after `close` (an app may start again)."""
        if not self.is_open:
            if self._settings is None:
                raise RuntimeError("a database built from a pool cannot open another")
            self._pool = await create_pool(self._settings)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire(timeout=self.acquire_timeout) as connection:
            yield connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as connection, connection.transaction():
            yield connection

    async def close(self, grace: float = 5.0) -> None:
        """Close gracefully; a connection still busy after `grace` seconds is cut so shutdown ends."""
        pool = self.pool
        try:
            async with asyncio.timeout(grace):
                await pool.close()
        except TimeoutError:
            pool.terminate()
