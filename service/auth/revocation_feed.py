"""Keeps a process's RevocationList current: LISTEN on a dedicated connection, and a periodic re-read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
from prometheus_client import Counter

from service.auth.revocation import Revocation, RevocationList, Revoked
from service.auth.revoke import CHANNEL
from service.db.sql import load_queries

_SQL = load_queries("service.auth", "revocation.sql")
_log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder(Revocation).decode
_CONNECT_TIMEOUT = 5.0
APPLICATION_NAME = "accounts-service-revocations"
# Every API process hears every revocation: max() over the processes is the platform's count.
REVOCATIONS_RECEIVED = Counter(
    "accounts_token_revocations_received",
    "Token revocations this process was told of, by what they name (jti, user, api_key, family).",
    ["kind"],
)


class RevocationFeed:
    """NOTIFY brings each revocation at once; the re-read every `interval` seconds covers a missed one
    (a dropped connection, a restart) and drops expired rows, so a revocation takes at most `interval`."""

    def __init__(self, dsn: str, revocations: RevocationList, interval: float) -> None:
        self._dsn = dsn
        self.revocations = revocations
        self._interval = interval
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        # Notices that arrive while the list is being re-read, applied again over the fresh copy.
        self._arrived: list[Revocation] | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Any = None) -> AsyncIterator[None]:
        """Started with the app: the list is complete before the first request is served."""
        await self._refresh()
        self._task = asyncio.create_task(self._run(), name="revocation-feed")
        try:
            yield
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            await self._disconnect()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._refresh()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The previous list stays in force; the next round reconnects.
                failure = {"error": type(exc).__name__, "detail": str(exc)}
                _log.warning("revocation list not refreshed", extra=failure)
                await self._disconnect()
            except Exception:
                # Anything else must not end the loop: without it no missed notice is ever caught up.
                _log.exception("revocation list not refreshed")
                await self._disconnect()

    async def _refresh(self) -> None:
        """LISTEN first, then read: a revocation committed in between is seen by one or the other."""
        connection = self._connection
        if connection is None or connection.is_closed():
            connection = await asyncpg.connect(
                self._dsn, timeout=_CONNECT_TIMEOUT, server_settings={"application_name": APPLICATION_NAME}
            )
            self._connection = connection
            await connection.add_listener(CHANNEL, self._notified)
        self._arrived = []
        try:
            rows = await connection.fetch(_SQL["active_revocations"], timeout=_CONNECT_TIMEOUT)
            self.revocations.replace(
                Revocation(Revoked(r["kind"]), r["value"], r["revoked_at"], r["expires_at"]) for r in rows
            )
            for revocation in self._arrived:
                self.revocations.add(revocation)
        finally:
            self._arrived = None

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            revocation = _decode(payload)
        except (msgspec.ValidationError, msgspec.DecodeError):
            _log.warning("ignored a malformed revocation notice")
            return
        self.revocations.add(revocation)
        REVOCATIONS_RECEIVED.labels(revocation.kind.value).inc()
        if self._arrived is not None:
            self._arrived.append(revocation)

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await connection.close(timeout=_CONNECT_TIMEOUT)
