"""Fleet benchmark: a member's rebuild rate from accounts.state, memory per 100k owned accounts, and
failover times after SIGKILL (defaults of WORKER_SESSION_TIMEOUT_MS / WORKER_HEARTBEAT_INTERVAL_MS).

    .venv/bin/python -m bench.fleet --accounts 100000 --kills 20

Figures, not assertions; they are printed and written to bench/results/<date>-fleet.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.fleet_members import Pool
from devtools.kafka import LocalKafka
from service.events.assignment import AccountAssignment
from service.events.cloudevents import state_record
from service.events.handler import Handler
from service.events.store import OutboxEvent
from service.events.topics import STATE_TOPIC_CONFIG

HERE = Path(__file__).parent
PARTITIONS = 6


def _event(account: uuid.UUID, version: int, status: str, removed: bool = False) -> OutboxEvent:
    payload = {
        "id": str(account),
        "name": "Michael Scott",
        "headline": "Regional Manager at Dunder Mifflin",
        "avatar": "https://example.com/avatars/michael_scott.png",
        "provider": "whatsapp",
        "type": "whatsapp",
        "integration": "/api/integrations/whatsapp",
        "externalId": f"+1555{account.int % 10**7:07d}",
        "client": "/api/clients/3f0b7c7e-8a51-4d5e-9a56-5b8e6f1f2a10",
        "status": status,
        "statusReason": None,
        "settings": {"receive": True, "send": True},
        "metadata": {"team": "sales", "desk": 7},
        "version": version,
        "createdAt": "2025-03-27T15:00:49+00:00",
        "updatedAt": "2025-03-28T09:12:00+00:00",
    }
    kind = "account.removed" if removed else "account.updated"
    return OutboxEvent(version, uuid.uuid4(), kind, account, uuid.uuid4(), uuid.uuid4(), version, payload,
                       datetime.now(UTC))  # fmt: skip


async def fill(bootstrap: str, topic: str, live: int) -> int:
    """`live` accounts, a fifth of them changed once more and 5 % more removed; returns the record count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs=STATE_TOPIC_CONFIG)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    count = 0
    try:
        pending = []
        accounts = [uuid.uuid4() for _ in range(live + live // 20)]
        events = [_event(a, 1, "connected") for a in accounts]
        events += [_event(a, 2, "connecting") for a in accounts[: live // 5]]
        events += [_event(a, 2, "connecting", removed=True) for a in accounts[live:]]
        for event in events:
            record = state_record(event)
            pending.append(await producer.send(topic, record.value, key=record.key, headers=record.headers))
            count += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


class _Count(Handler):
    def __init__(self, done: asyncio.Event) -> None:
        self.owned = 0
        self._done = done

    async def assigned(self, account: Any) -> None:
        self.owned += 1

    async def ready(self, count: int) -> None:
        self._done.set()


async def probe(bootstrap: str, topic: str) -> dict[str, float]:
    """One member owning every partition: its rebuild time, CPU and memory."""
    gc.collect()
    me = psutil.Process()
    rss_before = me.memory_info().rss
    ready, stop = asyncio.Event(), asyncio.Event()
    handler = _Count(ready)
    member = AccountAssignment(bootstrap, topic, f"probe-{uuid.uuid4().hex[:6]}", handler)
    running = asyncio.create_task(member.run(stop))
    await asyncio.wait_for(ready.wait(), 600)
    cpu = sum(me.cpu_times()[:2])
    gc.collect()
    rss_after = me.memory_info().rss
    owned = len(member.accounts)
    stop.set()
    await running
    seconds = member.stats.rebuild_sum
    return {
        "owned": owned,
        "rebuild_seconds": round(seconds, 3),
        "accounts_per_second": round(owned / seconds),
        "process_cpu_seconds": round(cpu, 2),
        "rss_delta_mib_per_100k": round((rss_after - rss_before) / owned * 100_000 / 2**20, 1),
    }


def _probe_in_subprocess(bootstrap: str, topic: str) -> dict[str, float]:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "bench.fleet", "--probe", bootstrap, topic],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


async def failovers(bootstrap: str, topic: str, kills: int, members: int, work: Path) -> list[float]:
    """SIGKILL a member `kills` times; seconds until the others own all its accounts (then replace it)."""
    pool = Pool(bootstrap, topic, work)
    times = []
    try:
        for _ in range(members):
            await pool.start()
        await pool.settled(300)
        for n in range(kills):
            victim = pool.members[n % len(pool.members)]
            orphans = set(victim.owned)
            started = time.monotonic()
            victim.kill()
            await pool.covers(orphans, 120)
            times.append(round(time.monotonic() - started, 2))
            print(f"kill {n + 1}/{kills}: {len(orphans)} accounts taken over in {times[-1]} s", flush=True)
            pool.members.remove(victim)
            await pool.start()
            await pool.settled(300)
    finally:
        await pool.stop()
    return times


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = HERE / ".work" / "fleet"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    kafka = LocalKafka(work / "kafka", port=0)
    bootstrap = kafka.start()
    try:
        records = await fill(bootstrap, "bench.accounts.state", args.accounts)
        rebuilds = [_probe_in_subprocess(bootstrap, "bench.accounts.state") for _ in range(args.rebuilds)]
        for result in rebuilds:
            print(f"rebuild: {result}", flush=True)
        times = []
        if args.kills:
            await fill(bootstrap, "bench.failover.state", args.failover_accounts)
            times = await failovers(bootstrap, "bench.failover.state", args.kills, 3, work)
    finally:
        kafka.stop()
    rates = sorted(r["accounts_per_second"] for r in rebuilds)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "live_accounts": args.accounts,
        "state_records_written": records,
        "rebuilds": rebuilds,
        "rebuild_accounts_per_second_median": statistics.median(rates),
        "failover_accounts": args.failover_accounts if args.kills else 0,
        "failover_seconds": times,
        "failover_summary": _summary(times),
    }


def _summary(times: list[float]) -> dict[str, float]:
    if not times:
        return {}
    ordered = sorted(times)
    return {
        "min": ordered[0],
        "p50": statistics.median(ordered),
        "p90": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
        "max": ordered[-1],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.fleet")
    parser.add_argument("--accounts", type=int, default=100_000, help="live accounts for the rebuild")
    parser.add_argument("--rebuilds", type=int, default=3)
    parser.add_argument("--failover-accounts", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=20, help="0 skips the failover phase")
    parser.add_argument("--out", help="results file name in bench/results/ (default: <date>-fleet.json)")
    parser.add_argument("--probe", nargs=2, metavar=("BOOTSTRAP", "TOPIC"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.probe:
        print(json.dumps(asyncio.run(probe(*arguments.probe))))
        sys.exit(0)
    results = asyncio.run(main(arguments))
    out = HERE / "results" / (arguments.out or f"{datetime.now(UTC):%Y-%m-%d}-fleet.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
