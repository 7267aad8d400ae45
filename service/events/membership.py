"""When a fleet member must stop trusting its assignment: no confirmation from the group for too long."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import ConsumerRebalanceListener, TopicPartition

Callback = Callable[[set[TopicPartition]], Awaitable[None]]


@dataclass
class MembershipWatch:
    """Tracks the last moment the group coordinator confirmed this member's generation.

    The coordinator drops a member one session timeout after its last heartbeat and then hands its
    partitions to others; a member that has heard nothing for `session - 2 * heartbeat` gives everything
    up first, so its accounts are released before anyone else can be assigned them.
    """

    session_timeout: float
    heartbeat_interval: float
    confirmed_at: float = 0.0

    @property
    def allowance(self) -> float:
        """Seconds without confirmation after which the member's accounts are released."""
        return self.session_timeout - 2 * self.heartbeat_interval

    @property
    def check_interval(self) -> float:
        """How often membership is confirmed: several chances within the allowance."""
        return max(0.05, self.heartbeat_interval / 3)

    def confirm(self, now: float | None = None) -> None:
        self.confirmed_at = time.monotonic() if now is None else now

    def lapsed(self, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        return moment - self.confirmed_at > self.allowance


class GroupListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs inside the group protocol: revocation before the group re-forms, assignment after it.

    aiokafka only logs a failing listener, so the failure is handed to `fail` to stop the member.
    """

    def __init__(self, revoked: Callback, assigned: Callback, fail: Callable[[BaseException], None]) -> None:
        self._revoked, self._assigned, self._fail = revoked, assigned, fail

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            await self._revoked(set(revoked))
        except Exception as exc:
            self._fail(exc)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            await self._assigned(set(assigned))
        except Exception as exc:
            self._fail(exc)
