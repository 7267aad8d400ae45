"""Which organizations allow a browser origin: held in memory, so a request costs one dict lookup.

Every process reloads the whole (small) table of allowed origins every `CORS_ORIGINS_REFRESH_SECONDS`;
a change made through this process applies to it at once, and to the others by their next reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterable

from service.organizations.store import Organizations

_log = logging.getLogger(__name__)
NOBODY: frozenset[uuid.UUID] = frozenset()


class OriginDirectory:
    def __init__(self, refresh_seconds: float) -> None:
        self._refresh_seconds = refresh_seconds
        self._by_origin: dict[str, frozenset[uuid.UUID]] = {}

    def organizations_allowing(self, origin: str) -> frozenset[uuid.UUID]:
        return self._by_origin.get(origin, NOBODY)

    def replace(self, organization_id: uuid.UUID, origins: Iterable[str]) -> None:
        """Apply one organization's new list here without waiting for the next reload."""
        wanted = set(origins)
        updated: dict[str, frozenset[uuid.UUID]] = {}
        for origin in wanted | set(self._by_origin):
            ids = set(self._by_origin.get(origin, NOBODY)) - {organization_id}
            if origin in wanted:
                ids.add(organization_id)
            if ids:
                updated[origin] = frozenset(ids)
        self._by_origin = updated

    async def reload(self, organizations: Organizations) -> None:
        self._by_origin = await organizations.allowed_origins()

    @contextlib.asynccontextmanager
    async def refreshing(self, organizations: Organizations) -> AsyncIterator[None]:
        """Load once at start-up (failing start-up if the database cannot be read), then keep reloading."""
        await self.reload(organizations)
        task = asyncio.create_task(self._keep_reloading(organizations))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_reloading(self, organizations: Organizations) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.reload(organizations)
            except Exception:  # the last list stays in force until the database answers again
                _log.warning("allowed origins could not be reloaded", exc_info=True)
