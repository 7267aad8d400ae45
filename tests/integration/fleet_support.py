"""Fleet tests' helpers: worker-example members as real processes, read through their JSON lines."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.settings import Settings
from tests.eventing import service_env
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import JSON, Api, new_account

CREDENTIALS = {
    "whatsapp": {"phoneNumberId": "1098765432", "accessToken": "t"},
    "telegram": {"botToken": "t"},
    "gmail": {"email": "inbox@example.com", "refreshToken": "t"},
}
# Short enough that a lost member is noticed in seconds; the broker's minimum is 6 s.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000


@dataclass
class Member:
    """One `worker-example --group … --json` process and everything it printed."""

    name: str
    process: asyncio.subprocess.Process
    events: list[dict[str, Any]] = field(default_factory=list)
    # Account id → version, as this member's lines say it owns them now.
    owned: dict[str, int] = field(default_factory=dict)
    # Wall-clock time the member died (SIGKILL), after which it owns nothing.
    killed_at: float | None = None
    _reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            event = json.loads(line)
            self.events.append(event)
            if event["event"] in {"assigned", "updated"}:
                self.owned[event["account"]] = event["version"]
            elif event["event"] == "released":
                self.owned.pop(event["account"], None)

    @property
    def live(self) -> bool:
        return self.killed_at is None and self.process.returncode is None

    @property
    def settled(self) -> bool:
        """A `ready` came after the last release caused by a rebalance."""
        last_ready = last_revoke = -1
        for index, event in enumerate(self.events):
            if event["event"] == "ready":
                last_ready = index
            elif event.get("reason") == "revoked":
                last_revoke = index
        return last_ready > last_revoke

    def saw(self, kind: str, account: str, since: int = 0, **fields: Any) -> bool:
        return any(
            e["event"] == kind and e.get("account") == account and fields.items() <= e.items()
            for e in self.events[since:]
        )

    def kill(self) -> None:
        self.killed_at = time.time()
        self.process.send_signal(signal.SIGKILL)

    async def terminate(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), 30)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 10)
        return code


async def start_member(
    name: str, settings: Settings, group: str, logs: Path, integrations: Iterable[str] = ("whatsapp",)
) -> Member:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        **service_env(settings),
        "WORKER_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
        "WORKER_HEARTBEAT_INTERVAL_MS": str(HEARTBEAT_INTERVAL_MS),
        "LOG_FORMAT": "text",
    }
    flags = [arg for slug in integrations for arg in ("--integration", slug)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "worker-example",
        "--group",
        group,
        *flags,
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=(logs / f"{name}.log").open("wb"),
    )
    member = Member(name, process)
    member._reader = asyncio.create_task(member._read())
    return member


def describe(members: Iterable[Member], logs: Path) -> str:
    """What each member owns and last said, and the end of its log: the message of a failed wait."""
    lines = []
    for m in members:
        log = (logs / f"{m.name}.log").read_text(errors="replace")[-1500:]
        lines.append(
            f"{m.name}: live={m.live} settled={m.settled} owned={len(m.owned)} events={len(m.events)}"
            f" last={m.events[-3:]}\n{log}"
        )
    return "\n".join(lines)


def exact(members: Iterable[Member], expected: set[str]) -> bool:
    """Every expected account owned by exactly one live, settled member, and nothing else owned."""
    live = [m for m in members if m.live]
    owned = [set(m.owned) for m in live]
    return (
        all(m.settled for m in live)
        and sum(len(s) for s in owned) == len(expected)
        and set().union(*owned) == expected
    )


def owners(members: Iterable[Member]) -> dict[str, str]:
    return {account: m.name for m in members if m.live for account in m.owned}


def overlaps(members: list[Member], until: float) -> list[tuple[str, str, str]]:
    """(account, member, member) whenever two members owned one account at the same moment.

    Each member's ownership runs from its `assigned` line to its `released` line, or to its death.
    """
    spans: dict[str, list[tuple[float, float, str]]] = {}
    for member in members:
        start: dict[str, float] = {}
        end_of_life = member.killed_at or until
        for event in member.events:
            if event["event"] == "assigned":
                start[event["account"]] = event["at"]
            elif event["event"] == "released" and event["account"] in start:
                spans.setdefault(event["account"], []).append(
                    (start.pop(event["account"]), event["at"], member.name)
                )
        for account, began in start.items():
            spans.setdefault(account, []).append((began, end_of_life, member.name))
    return [
        (account, a[2], b[2])
        for account, intervals in spans.items()
        for a, b in itertools.combinations(intervals, 2)
        if a[2] != b[2] and a[0] < b[1] and b[0] < a[1]
    ]


class Accounts:
    """Account changes through the REST API, as owners, customers and workers make them."""

    def __init__(self, api: Api, tenants: Tenants, db: asyncpg.Connection) -> None:
        self.api, self.tenants, self.db = api, tenants, db
        self._numbers = itertools.count(1)

    async def create(self, integration: str, tenant_index: int = 0) -> str:
        tenant = self.tenants.a if tenant_index == 0 else self.tenants.b
        number = next(self._numbers)
        body = new_account(
            tenant,
            number % 2,
            integration=f"/api/integrations/{integration}",
            externalId=f"+1555{number:07d}",
            credentials=CREDENTIALS[integration],
        )
        return str((await self.api.created(tenant.owner, body))["id"])

    async def _owner_of(self, account: str) -> Any:
        query = "SELECT organization_id FROM accounts WHERE id = $1"
        organization = await self.db.fetchval(query, uuid.UUID(account))
        a, b = self.tenants.a, self.tenants.b
        return a.owner if organization == a.organization_id else b.owner

    async def patch(self, account: str, body: dict[str, Any], as_worker: bool = False) -> None:
        who = WORKER if as_worker else await self._owner_of(account)
        response = await self.api.patch(who, f"/api/accounts/{account}", body, JSON)
        assert response.status_code == 200, response.text

    async def remove(self, account: str) -> None:
        response = await self.api.delete(await self._owner_of(account), f"/api/accounts/{account}")
        assert response.status_code == 204, response.text

    async def pollable(self, integration: str = "whatsapp") -> set[str]:
        rows = await self.db.fetch(
            "SELECT id FROM accounts WHERE deleted_at IS NULL AND integration = $1"
            " AND status NOT IN ('paused', 'disconnected')",
            integration,
        )
        return {str(row["id"]) for row in rows}

    async def with_status(self, *statuses: str) -> list[str]:
        rows = await self.db.fetch(
            "SELECT id FROM accounts WHERE deleted_at IS NULL AND integration = 'whatsapp'"
            " AND status = ANY($1::text[]) ORDER BY id",
            list(statuses),
        )
        return [str(row["id"]) for row in rows]

    async def churn(self, rng: random.Random) -> tuple[str, str]:
        """One change of a random kind to a random WhatsApp account: (kind, account id)."""
        kind = rng.choice(["pause", "resume", "disconnect", "reconnect", "rename", "remove", "create"])
        if kind == "create":
            return kind, await self.create("whatsapp", rng.randrange(2))
        wanted = {"resume": ["paused"], "reconnect": ["disconnected"]}
        candidates = await self.with_status(*wanted.get(kind, ["connecting", "connected"]))
        if not candidates:
            return "none", ""
        account = rng.choice(candidates)
        if kind == "pause":
            await self.patch(account, {"status": "paused"})
        elif kind == "resume":
            await self.patch(account, {"status": "connecting"})
        elif kind == "disconnect":
            await self.patch(account, {"status": "disconnected", "statusReason": "revoked"}, as_worker=True)
        elif kind == "reconnect":
            await self.patch(account, {"credentials": CREDENTIALS["whatsapp"]})
        elif kind == "rename":
            await self.patch(account, {"name": f"Renamed {rng.randrange(10**6)}"})
        else:
            await self.remove(account)
        return kind, account


@pytest.fixture(name="rest")
async def rest_fixture(fleet_settings: Settings, token_for: Callable[..., str]) -> AsyncIterator[Api]:
    """The API in process on the module's `fleet_settings`."""
    async with AsyncTestClient(app=create_app(fleet_settings)) as http:
        yield Api(http, token_for)
