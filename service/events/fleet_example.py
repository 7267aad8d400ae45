"""The example fleet member: prints what it is given to poll, as text or as one JSON object per line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from service.events.assignment import AccountAssignment
from service.events.handler import Handler
from service.events.ownership import ReleaseReason
from service.events.schema import AccountChange
from service.events.worker_metrics import WorkerStats
from service.settings import Settings

Say = Callable[[str], None]
_encode = msgspec.json.Encoder().encode


class Printer(Handler):
    """Says each assignment change; a real worker would start or stop polling the account here."""

    def __init__(self, say: Say, *, as_json: bool) -> None:
        self._say = say
        self._json = as_json

    def _emit(self, line: dict[str, Any], text: str) -> None:
        # The wall-clock time lets the lines of several members be put in one order.
        self._say(_encode(line | {"at": time.time()}).decode() if self._json else text)

    async def assigned(self, account: AccountChange) -> None:
        line = {"event": "assigned", "account": account.id, "version": account.version}
        self._emit(line, f"+ {_describe(account)} assigned: polling it")

    async def updated(self, account: AccountChange, changes: list[str]) -> None:
        line = {"event": "updated", "account": account.id, "version": account.version, "changes": changes}
        self._emit(line, f"~ {_describe(account)} updated [{', '.join(changes)}]")

    async def released(self, account_id: str, reason: ReleaseReason) -> None:
        line = {"event": "released", "account": account_id, "reason": reason}
        self._emit(line, f"- {account_id} released ({reason}): stopped polling it")

    async def ready(self, count: int) -> None:
        self._emit({"event": "ready", "accounts": count}, f"ready: polling {count} accounts")


def _describe(account: AccountChange) -> str:
    return f"{account.id} ({account.provider} {account.external_id or account.name}, {account.status})"


async def run_member(
    settings: Settings,
    say: Say,
    stop: asyncio.Event,
    *,
    group: str,
    integrations: Sequence[str] = (),
    providers: Sequence[str] = (),
    as_json: bool = False,
    stats: WorkerStats | None = None,
) -> None:
    """Be a member of `group` until `stop` is set, then release everything (printed too)."""
    member = AccountAssignment(
        settings.kafka_bootstrap_servers,
        settings.kafka_state_topic,
        group,
        Printer(say, as_json=as_json),
        integrations=integrations,
        providers=providers,
        session_timeout_ms=settings.worker_session_timeout_ms,
        heartbeat_interval_ms=settings.worker_heartbeat_interval_ms,
        stats=stats,
    )
    await member.run(stop)
