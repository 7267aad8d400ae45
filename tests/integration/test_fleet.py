"""Inbox worker fleets: accounts made over REST, published by the relay, shared out by consumer group."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import event_settings, running_relay, wait_until
from tests.identity import Tenants
from tests.integration.accounts_support import Api
from tests.integration.fleet_support import (  # noqa: F401 - the rest fixture
    CREDENTIALS,
    SESSION_TIMEOUT_MS,
    Accounts,
    Member,
    describe,
    exact,
    overlaps,
    owners,
    rest_fixture,
    start_member,
)

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")

PARTITIONS = 12


@pytest.fixture
async def fleet_settings(settings: Settings) -> Settings:
    mine = event_settings(
        settings, integrations_available=",".join(CREDENTIALS), kafka_topic_partitions=PARTITIONS
    )
    await ensure_topics(mine)
    return mine


class Churn:
    """Random account changes, a few per second, while the fleet rebalances."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts
        self._rng = random.Random(14)
        self._stop = asyncio.Event()
        self.done: list[tuple[str, str]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            self.done.append(await self._accounts.churn(self._rng))
            # Paced so the changes spread over the rebalances instead of all landing before them.
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    @property
    def touched(self) -> set[str]:
        return {account for _, account in self.done}


async def _published(db: asyncpg.Connection) -> None:
    await wait_until(lambda: db.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"), 60)


async def _versions_agree(members: list[Member], db: asyncpg.Connection) -> bool:
    rows = await db.fetch("SELECT id, version FROM accounts WHERE deleted_at IS NULL")
    versions = {str(row["id"]): row["version"] for row in rows}
    return all(versions.get(account) == v for m in members if m.live for account, v in m.owned.items())


async def test_a_fleet_shares_the_accounts_out_exactly_through_scale_up_crash_and_changes(
    fleet_settings: Settings, rest: Api, tenants: Tenants, db: asyncpg.Connection, tmp_path: Path
) -> None:
    accounts = Accounts(rest, tenants, db)
    created = {
        integration: [await accounts.create(integration, n % 2) for n in range(count)]
        for integration, count in [("whatsapp", 240), ("telegram", 50), ("gmail", 50)]
    }
    whatsapp = created["whatsapp"]
    for account in whatsapp[:10]:
        await accounts.patch(account, {"status": "paused"})
    for account in whatsapp[10:20]:
        await accounts.patch(account, {"status": "disconnected"}, as_worker=True)
    for account in whatsapp[20:30]:
        await accounts.remove(account)
    for account in whatsapp[30:40]:
        await accounts.patch(account, {"status": "connected"}, as_worker=True)

    group = f"pool-{uuid.uuid4().hex[:8]}"
    members: list[Member] = []
    churn = Churn(accounts)
    async with running_relay(fleet_settings):
        await _published(db)
        try:
            # Three members: after `ready` the pollable WhatsApp accounts are owned exactly once.
            members += [await start_member(f"w{n}", fleet_settings, group, tmp_path) for n in range(3)]
            expected = await accounts.pollable()
            assert len(expected) == 210
            await wait_until(lambda: exact(members, expected) and all(m.owned for m in members), 90)
            for member in members:
                ready = [e for e in member.events if e["event"] == "ready"][-1]
                assert ready["accounts"] == len(member.owned)
            others = set(created["telegram"]) | set(created["gmail"])
            assert not any(e.get("account") in others for m in members for e in m.events)
            before = owners(members)

            # A fourth member while accounts change: only about a quarter of the accounts move.
            churn.start()
            members.append(await start_member("w3", fleet_settings, group, tmp_path))
            await wait_until(lambda: members[3].owned and all(m.settled for m in members), 90)
            await churn.stop()
            await _published(db)
            expected = await accounts.pollable()
            await wait_until(lambda: exact(members, expected), 60)
            after = owners(members)
            kept = set(before) & set(after)
            moved = sum(before[a] != after[a] for a in kept) / len(kept)
            assert 0.1 <= moved <= 0.45, moved

            # SIGKILL one: the others own all its accounts within its session timeout plus a rebalance.
            churn.start()
            victim = members[0]
            orphans = set(victim.owned)
            victim.kill()
            killed = time.monotonic()
            await wait_until(lambda: orphans - churn.touched <= set(owners(members)), 90)
            failover = time.monotonic() - killed
            await churn.stop()
            await _published(db)
            expected = await accounts.pollable()
            await wait_until(lambda: exact(members, expected), 60)
            await wait_until(lambda: _versions_agree(members, db), 30)
            assert failover < SESSION_TIMEOUT_MS / 1000 + 20, failover
            kinds = {kind for kind, _ in churn.done}
            assert kinds >= {"pause", "disconnect", "remove", "reconnect"}, churn.done

            # In a settled fleet each change reaches the account's owner.
            latencies = await _each_change_reaches_its_owner(accounts, members)
            assert max(latencies.values()) < 10, latencies
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{describe(members, tmp_path)}") from exc
        finally:
            until = time.time()
            codes = [await m.terminate() for m in members if m.live]
            await churn.stop()
        assert codes == [0] * len(codes)
        # Stopping released everything, and no account was ever owned by two live members.
        assert all(not m.owned for m in members if m.killed_at is None)
        assert overlaps(members, until) == []
    print(f"\nfailover {failover:.2f} s; moved on scale-up {moved:.0%}; change latency {latencies}")


async def _each_change_reaches_its_owner(accounts: Accounts, members: list[Member]) -> dict[str, float]:
    """Seconds from each kind of change (committed) to its line in the right member's output."""
    latencies: dict[str, float] = {}
    live = [m for m in members if m.live]

    def owner(account: str) -> Member:
        return next(m for m in live if account in m.owned)

    async def measure(kind: str, change: Any, check: Callable[[], bool]) -> None:
        started = time.monotonic()
        await change
        await wait_until(check, 30, 0.02)
        latencies[kind] = round(time.monotonic() - started, 3)

    active = sorted(set().union(*(m.owned for m in live)))
    target = owner(active[0])
    mark = len(target.events)
    await measure(
        "rename",
        accounts.patch(active[0], {"name": "Jim Halpert"}),
        lambda: target.saw("updated", active[0], mark, changes=["name"]),
    )
    for kind, account, body, reason in [
        ("pause", active[1], {"status": "paused"}, "paused"),
        ("disconnect", active[2], {"status": "disconnected"}, "disconnected"),
    ]:
        member, mark = owner(account), len(owner(account).events)
        worker = kind == "disconnect"
        await measure(
            kind,
            accounts.patch(account, body, as_worker=worker),
            lambda m=member, a=account, r=reason, k=mark: m.saw("released", a, k, reason=r),
        )
    member, mark = owner(active[3]), len(owner(active[3]).events)
    removed = lambda: member.saw("released", active[3], mark, reason="removed")  # noqa: E731
    await measure("remove", accounts.remove(active[3]), removed)
    marks = {m.name: len(m.events) for m in live}
    await measure(
        "resume",
        accounts.patch(active[1], {"status": "connecting"}),
        lambda: any(m.saw("assigned", active[1], marks[m.name]) for m in live),
    )
    await measure(
        "reconnect",
        accounts.patch(active[2], {"credentials": CREDENTIALS["whatsapp"]}),
        lambda: any(m.saw("assigned", active[2], marks[m.name]) for m in live),
    )
    return latencies
