"""What a fleet member's application is told, and the one place that tells it (and counts it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from service.events.ownership import Assigned, Change, Released, ReleaseReason, Updated
from service.events.schema import AccountChange
from service.events.worker_metrics import WorkerStats


class AssignmentHandler(Protocol):
    """The application side of a fleet member; each call is awaited before the member goes on.

    `released` is awaited before the group may hand the account to another member: stop polling it
    (and sending from it) before returning.
    """

    async def assigned(self, account: AccountChange) -> None: ...

    async def updated(self, account: AccountChange, changes: list[str]) -> None: ...

    async def released(self, account_id: str, reason: ReleaseReason) -> None: ...

    async def ready(self, count: int) -> None: ...


class Handler:
    """A handler that ignores everything: subclass it and override what the application needs."""

    async def assigned(self, account: AccountChange) -> None:
        return None

    async def updated(self, account: AccountChange, changes: list[str]) -> None:
        return None

    async def released(self, account_id: str, reason: ReleaseReason) -> None:
        return None

    async def ready(self, count: int) -> None:
        return None


class Notifier:
    """Hands changes to the handler in order and keeps the owned-accounts figures."""

    def __init__(self, handler: AssignmentHandler, stats: WorkerStats) -> None:
        self._handler = handler
        self._stats = stats

    async def tell(self, change: Change) -> None:
        if isinstance(change, Assigned):
            self._stats.owned_accounts += 1
            await self._handler.assigned(change.account)
        elif isinstance(change, Updated):
            await self._handler.updated(change.account, change.changes)
        elif isinstance(change, Released):
            self._stats.owned_accounts -= 1
            self._stats.record_release(change.reason)
            await self._handler.released(change.account_id, change.reason)

    async def tell_all(self, changes: Iterable[Change]) -> None:
        for change in changes:
            await self.tell(change)

    async def ready(self, count: int) -> None:
        await self._handler.ready(count)
