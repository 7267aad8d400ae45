"""`worker-example --group` processes of one pool, followed through their JSON lines (for bench.fleet)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path


class Member:
    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name, self.process = name, process
        self.owned: set[str] = set()
        self.settled = False
        self.killed = False
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            event = json.loads(line)
            kind = event["event"]
            if kind == "assigned":
                self.owned.add(event["account"])
            elif kind == "released":
                self.owned.discard(event["account"])
                self.settled = self.settled and event["reason"] != "revoked"
            elif kind == "ready":
                self.settled = True

    def kill(self) -> None:
        self.killed = True
        self.process.send_signal(signal.SIGKILL)


class Pool:
    """Members of one group on `topic`, with the default session timeout and heartbeat."""

    def __init__(self, bootstrap: str, topic: str, work: Path) -> None:
        self.members: list[Member] = []
        self._names = itertools.count()
        self._group = f"bench-pool-{os.getpid()}"
        self._work = work
        self._env = {
            "PATH": os.environ["PATH"],
            "DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_STATE_TOPIC": topic,
            "KAFKA_EVENTS_TOPIC": f"{topic}.unused",
            "LOG_FORMAT": "text",
        }

    async def start(self) -> None:
        name = f"m{next(self._names)}"
        log = (self._work / f"{name}.log").open("wb")
        command = [sys.executable, "-m", "service", "worker-example", "--group", self._group, "--json"]
        process = await asyncio.create_subprocess_exec(
            *command, env=self._env, stdout=asyncio.subprocess.PIPE, stderr=log
        )
        self.members.append(Member(name, process))

    async def _until(self, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError("the pool did not get there in time")
            await asyncio.sleep(0.02)

    async def settled(self, timeout: float) -> None:
        """Every member ready after its last rebalance, each account owned once."""
        await self._until(lambda: all(m.settled for m in self.members) and self._disjoint(), timeout)

    async def covers(self, accounts: set[str], timeout: float) -> None:
        """The remaining members own all of `accounts`."""

        def covered() -> bool:
            alive = [m.owned for m in self.members if not m.killed]
            return accounts <= set().union(*alive)

        await self._until(covered, timeout)

    def _disjoint(self) -> bool:
        return sum(len(m.owned) for m in self.members) == len(set().union(*(m.owned for m in self.members)))

    async def stop(self) -> None:
        for member in self.members:
            if member.process.returncode is None:
                member.process.send_signal(signal.SIGTERM)
        for member in self.members:
            await asyncio.wait_for(member.process.wait(), 60)
