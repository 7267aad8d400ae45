"""The active relay's term: the advisory lock, a heartbeat beside it, a standby's takeover of a stale one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from service.db.sql import load_queries
from service.settings import Settings

log = logging.getLogger(__name__)
_SQL = load_queries("service.events", "relay.sql")

# Session-level advisory lock held by the active relay; any constant other than the migration lock's.
LOCK_KEY = 0x6F7574626F782D72


class LostLock(Exception):
    """This relay's session no longer holds the lock: another relay took over."""


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Lease:
    """The lock lives on the relay's own connection; the heartbeat on a second one, so it goes on
    beating while the relay waits for Kafka, and stops only when the relay's process does."""

    def __init__(
        self, settings: Settings, connection: asyncpg.Connection, connect_kwargs: dict[str, Any]
    ) -> None:
        self._settings = settings
        self._connection = connection
        self._connect_kwargs = connect_kwargs

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait as a standby until the lock is ours (True) or `stop` is set (False)."""
        announced = False
        while not stop.is_set():
            if await self._connection.fetchval(_SQL["try_lock"], LOCK_KEY):
                return True
            if not announced:
                log.info("another relay is active; waiting as standby")
                announced = True
            after = self._settings.relay_takeover_after
            if (pid := await self._connection.fetchval(_SQL["stale_holder"], LOCK_KEY, after)) is not None:
                silent = {"session": pid, "seconds": after}
                log.warning("the active relay showed no sign of life; ending its session", extra=silent)
                await self._connection.fetchval(_SQL["end_session"], pid)
                continue
            await _sleep(stop, self._settings.relay_poll_interval)
        return False

    async def confirm(self) -> None:
        """Raise LostLock unless this relay's session still holds the lock."""
        try:
            held = await self._connection.fetchval(_SQL["holds_lock"], LOCK_KEY)
        except (
            OSError,
            asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError,
            asyncpg.AdminShutdownError,
        ) as exc:
            raise LostLock(f"the relay's session is gone ({type(exc).__name__})") from exc
        if not held:
            raise LostLock("the relay lock is no longer held by this relay's session")

    @contextlib.asynccontextmanager
    async def heartbeat(self) -> AsyncIterator[None]:
        """Beat (once before the block starts, then on and on) until the block ends."""
        self._beats = await self._connect()
        try:
            await self._beats.execute(_SQL["beat"], self._connection.get_server_pid(), LOCK_KEY)
            task = asyncio.create_task(self._beat(), name="relay-heartbeat")
            try:
                yield
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            self._beats.terminate()

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self._settings.database_url, **self._connect_kwargs)

    async def _beat(self) -> None:
        pid = self._connection.get_server_pid()
        interval = self._settings.relay_takeover_after / 4
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                if self._beats.is_closed():
                    self._beats = await self._connect()
                await self._beats.execute(_SQL["beat"], pid, LOCK_KEY)
                if failing:
                    log.info("relay heartbeat written again")
                failing = False
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if not failing:
                    failure = {"error": type(exc).__name__}
                    log.warning("relay heartbeat failed; a standby may take over", extra=failure)
                failing = True
                self._beats.terminate()
