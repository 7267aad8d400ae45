"""Webhook delivery benchmark: `python -m bench.webhooks [--events N] [--output FILE]`.

PostgreSQL (local), `accounts-service webhooks` as its own process, and a lean HTTP receiver in this
process on 127.0.0.1. Three phases: the drain rate of a backlog to one fast endpoint; commit →
delivered latency at half that rate; then slices that alternate between the fast endpoint alone and
the fast endpoint beside one that hangs, each slice a fresh backlog, compared by their medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from statistics import median, quantiles
from typing import Any

import asyncpg
import uvloop

from bench.webhook_cpu import Cpu
from bench.webhook_receiver import LeanReceiver
from devtools.postgres import LocalPostgres
from service.crypto import CredentialCipher, new_key_ring_entry
from service.db.migrate import migrate
from service.webhooks import signing

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "webhooks"
ACCOUNTS = 2000
BASE_ACCOUNT = uuid.UUID("00000000-0000-4000-8000-000000000000").int
_ONE_EVENT = (
    "INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id, account_version,"
    " payload) VALUES ($1, 'account.updated', $2, $3, $4, $5, '{}'::jsonb)"
)


async def insert_events(
    db: asyncpg.Connection, organization: uuid.UUID, client: uuid.UUID, count: int, accounts_from: int = 0
) -> None:
    """`count` events over ACCOUNTS accounts (numbered from `accounts_from`) in one statement."""
    await db.execute(
        """
        INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id, account_version,
                            payload)
        SELECT gen_random_uuid(), 'account.updated',
               ('00000000-0000-4000-8000-' || lpad(to_hex($5 + n % $4), 12, '0'))::uuid, $1, $2, n / $4 + 1,
               jsonb_build_object('id', n % $4, 'name', 'Michael Scott', 'status', 'connected',
                                  'version', n / $4 + 1, 'changes', jsonb_build_array('name'))
        FROM generate_series(0, $3 - 1) AS n
        """,
        organization, client, count, ACCOUNTS, accounts_from,
    )  # fmt: skip


async def drain(receiver: LeanReceiver, count: int, timeout: float = 300) -> float:
    """Deliveries per second to the fast endpoint, from its first arrival to its last."""
    deadline = time.monotonic() + timeout
    while len(receiver.arrived) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(receiver.arrived)} of {count} delivered")
        await asyncio.sleep(0.02)
    times = sorted(receiver.arrived.values())
    return count / max(times[-1] - times[0], 1e-6)


async def latency(
    dsn: str,
    receiver: LeanReceiver,
    organization: uuid.UUID,
    client: uuid.UUID,
    rate: float,
    seconds: float,
    writers: int = 4,
    versions_from: int = 10_000,
) -> tuple[list[float], float]:
    """Commit → delivered for single-event commits at `rate` per second (spread over `writers`
    connections, as one connection's round trips cap its rate); and the rate achieved."""
    committed: dict[bytes, float] = {}
    start = time.monotonic()
    counts = [0] * writers

    async def writer(number: int) -> None:
        db = await asyncpg.connect(dsn)
        try:
            while time.monotonic() - start < seconds:
                due = int((time.monotonic() - start) * rate / writers)
                while counts[number] < due:
                    sent = counts[number] * writers + number
                    event_id = uuid.uuid4()
                    await db.execute(
                        _ONE_EVENT,
                        event_id, uuid.UUID(int=BASE_ACCOUNT + sent % ACCOUNTS), organization, client,
                        versions_from + sent,
                    )  # fmt: skip
                    committed[str(event_id).encode()] = time.time()
                    counts[number] += 1
                await asyncio.sleep(0.002)
        finally:
            await db.close()

    await asyncio.gather(*(writer(n) for n in range(writers)))
    achieved = sum(counts) / (time.monotonic() - start)
    deadline = time.monotonic() + 60
    while any(e not in receiver.arrived for e in committed) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return sorted(receiver.arrived[e] - t for e, t in committed.items() if e in receiver.arrived), achieved


async def isolation(
    db: asyncpg.Connection,
    receiver: LeanReceiver,
    organization: uuid.UUID,
    client: uuid.UUID,
    hanging: uuid.UUID,
    pairs: int,
    events: int,
) -> dict[str, Any]:
    """Slices alone / beside the hanging endpoint, interleaved (ABBA) so drift hits both alike.

    Each slice writes a backlog for accounts no earlier slice used, so the hanging endpoint always
    has due first deliveries (no account waits for a retry) and holds its cap of requests open.
    """
    slices: list[dict[str, Any]] = []
    order = [(False, True) if i % 2 == 0 else (True, False) for i in range(pairs)]
    for number, with_hang in enumerate(mode for pair in order for mode in pair):
        if with_hang:
            receiver.hanging_on = True
            await db.execute("UPDATE webhook_endpoints SET enabled = true WHERE id = $1", hanging)
        receiver.arrived.clear()
        receiver.open_hanging_max = receiver.open_hanging
        await insert_events(db, organization, client, events, accounts_from=ACCOUNTS * (number + 2))
        rate = await drain(receiver, events)
        slices.append({"hanging_endpoint": with_hang, "per_second": round(rate, 1),
                       "hanging_requests_open_max": receiver.open_hanging_max})  # fmt: skip
        print(f"  slice {number}: {'with' if with_hang else 'without'} a hanging endpoint {rate:.0f}/s"
              f" ({receiver.open_hanging_max} hanging requests open)", flush=True)  # fmt: skip
        if with_hang:
            await _send_away(db, receiver, hanging)
    alone = [s["per_second"] for s in slices if not s["hanging_endpoint"]]
    beside = [s["per_second"] for s in slices if s["hanging_endpoint"]]
    ratios = []
    for first, second in zip(slices[::2], slices[1::2], strict=True):
        pair = {s["hanging_endpoint"]: s["per_second"] for s in (first, second)}
        ratios.append(pair[True] / pair[False])
    return {
        "events_per_slice": events,
        "slices": slices,
        "median_alone_per_second": round(median(alone), 1),
        "median_beside_hanging_per_second": round(median(beside), 1),
        "pair_ratios": [round(r, 3) for r in ratios],
        "median_pair_ratio": round(median(ratios), 3),
    }


async def _send_away(db: asyncpg.Connection, receiver: LeanReceiver, hanging: uuid.UUID) -> None:
    """Disable the hanging endpoint and drop its requests until the dispatcher has none left to send
    (those it had queued in memory), so the next slice really is the fast endpoint alone."""
    await db.execute("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", hanging)
    receiver.hanging_on = False
    receiver.cut_hanging()
    while receiver.open_hanging or time.monotonic() - receiver.last_hang_arrival < 1.0:
        await asyncio.sleep(0.05)


async def run(events: int, pairs: int, slice_events: int, profile: bool = False) -> dict[str, Any]:
    shutil.rmtree(WORK / "postgres", ignore_errors=True)
    server = LocalPostgres(WORK / "postgres")
    dsn = server.start()
    dispatcher: subprocess.Popen[bytes] | None = None
    receiver = LeanReceiver()
    listener = await asyncio.get_running_loop().create_server(lambda: receiver.protocol(), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        await migrate(dsn)
        db = await asyncpg.connect(dsn)
        organization, client = uuid.uuid4(), uuid.uuid4()
        await db.execute("INSERT INTO organizations (id, name) VALUES ($1, 'bench')", organization)
        await db.execute(
            "INSERT INTO clients (id, organization_id, name) VALUES ($1, $2, 'c')", client, organization
        )
        keys = new_key_ring_entry("bench")
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "CREDENTIALS_KEYS": keys,
            "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
            "LOG_LEVEL": "WARNING",
        }
        await _endpoint(db, keys, organization, f"http://127.0.0.1:{port}/fast")
        await insert_events(db, organization, client, events)
        profiler = ["-m", "cProfile", "-o", str(WORK / "dispatcher.prof")] if profile else []
        dispatcher = subprocess.Popen([sys.executable, *profiler, "-m", "service", "webhooks"], env=env)
        cpu = Cpu(dispatcher.pid, WORK / "postgres")
        before = cpu.snapshot()
        rate = await drain(receiver, events)
        cost = Cpu.per_delivery_ms(before, cpu.snapshot(), events)
        print(f"drain: {rate:.0f} deliveries/s; CPU ms per delivery {cost}", flush=True)
        # At half the measured drain rate, and at half the target (1,000/s).
        latencies = []
        for phase, target in enumerate((rate / 2, 500.0)):
            receiver.arrived.clear()
            versions = 10_000 + phase * 1_000_000
            delays, achieved = await latency(dsn, receiver, organization, client, target, 15, 4, versions)
            p50, p99 = (quantiles(delays, n=100)[i] for i in (49, 98))
            print(f"latency at {achieved:.0f}/s: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
            latencies.append({"target_rate": round(target, 1), "achieved_rate": round(achieved, 1),
                              "commits": len(delays), "p50_ms": round(p50 * 1000, 2),
                              "p99_ms": round(p99 * 1000, 2)})  # fmt: skip
        hanging = await _endpoint(db, keys, organization, f"http://127.0.0.1:{port}/hang")
        await _send_away(db, receiver, hanging)
        print("isolation slices:", flush=True)
        apart = await isolation(db, receiver, organization, client, hanging, pairs, slice_events)
        print(f"beside a hanging endpoint: median ratio {apart['median_pair_ratio']}", flush=True)
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
            "max_in_flight_per_endpoint": int(os.environ.get("WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT", "10")),
            "drain": {"events": events, "per_second": round(rate, 1), "cpu_ms_per_delivery": cost},
            "commit_to_delivered": latencies,
            "isolation": apart,
        }
    finally:
        if dispatcher is not None:
            dispatcher.send_signal(signal.SIGTERM)
            dispatcher.wait(30)
        receiver.cut_hanging()
        listener.close()
        await asyncio.sleep(0.1)
        server.stop()


async def _endpoint(db: asyncpg.Connection, keys: str, organization: uuid.UUID, url: str) -> uuid.UUID:
    endpoint = uuid.uuid4()
    sealed = signing.seal(CredentialCipher.from_text(keys), endpoint, signing.new_secret())
    await db.execute(
        "INSERT INTO webhook_endpoints (id, organization_id, url, event_types, secret, secret_key_id)"
        " VALUES ($1, $2, $3, ARRAY['*'], $4, $5)",
        endpoint, organization, url, sealed.ciphertext, sealed.key_id,
    )  # fmt: skip
    return endpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=6, help="isolation slice pairs (alone, beside)")
    parser.add_argument("--slice-events", type=int, default=12_000)
    parser.add_argument("--output", type=Path, help="write the results JSON here too")
    parser.add_argument("--profile", action="store_true", help="cProfile the dispatcher into bench/.work")
    args = parser.parse_args()
    results = uvloop.run(run(args.events, args.pairs, args.slice_events, args.profile))
    text = json.dumps(results, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
