"""Webhook delivery benchmark: `python -m bench.webhooks [--events N]`.

PostgreSQL (local), `accounts-service webhooks` as its own process, and a fast HTTP receiver in this
process on 127.0.0.1. Three phases: the drain rate of a backlog to one fast endpoint; commit →
delivered latency at half that rate; the drain rate again while a second endpoint hangs.
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
from pathlib import Path
from statistics import quantiles

import asyncpg

from devtools.postgres import LocalPostgres
from service.crypto import new_key_ring_entry
from service.db.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work" / "webhooks"
ACCOUNTS = 2000


class FastReceiver:
    """Answers 204 at once on `/fast` and never on `/hang`; notes when each `webhook-id` first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.hanging = 0
        self._release = asyncio.Event()

    def release(self) -> None:
        self._release.set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
                }
                await reader.readexactly(int(headers.get("content-length", "0")))
                if lines[0].split(" ")[1] == "/hang":
                    self.hanging += 1
                    await self._release.wait()
                    return
                self.arrived.setdefault(headers["webhook-id"], time.time())
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def insert_events(
    db: asyncpg.Connection, organization: uuid.UUID, client: uuid.UUID, count: int
) -> None:
    """`count` events over ACCOUNTS accounts in one statement (the trigger fans them out)."""
    await db.execute(
        """
        INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id, account_version,
                            payload)
        SELECT gen_random_uuid(), 'account.updated',
               ('00000000-0000-4000-8000-' || lpad(to_hex(n % $4), 12, '0'))::uuid, $1, $2, n / $4 + 1,
               jsonb_build_object('id', n % $4, 'name', 'Michael Scott', 'status', 'connected',
                                  'version', n / $4 + 1, 'changes', jsonb_build_array('name'))
        FROM generate_series(0, $3 - 1) AS n
        """,
        organization,
        client,
        count,
        ACCOUNTS,
    )


async def drain(receiver: FastReceiver, count: int, timeout: float = 600) -> float:
    """Deliveries per second to the fast endpoint, from its first arrival to its last."""
    deadline = time.monotonic() + timeout
    while len(receiver.arrived) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(receiver.arrived)} of {count} delivered")
        await asyncio.sleep(0.05)
    times = sorted(receiver.arrived.values())
    return count / max(times[-1] - times[0], 1e-6)


async def latency(
    db: asyncpg.Connection,
    receiver: FastReceiver,
    organization: uuid.UUID,
    client: uuid.UUID,
    rate: float,
    seconds: float,
) -> list[float]:
    """Commit → delivered, for single-event commits at `rate` per second."""
    committed: dict[str, float] = {}
    start, sent = time.monotonic(), 0
    version = 10_000
    while time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * rate)
        while sent < due:
            event_id = uuid.uuid4()
            account = uuid.UUID(int=uuid.UUID("00000000-0000-4000-8000-000000000000").int + sent % ACCOUNTS)
            version += 1
            await db.execute(
                "INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id,"
                " account_version, payload) VALUES ($1, 'account.updated', $2, $3, $4, $5, '{}'::jsonb)",
                event_id, account, organization, client, version,
            )  # fmt: skip
            committed[str(event_id)] = time.time()
            sent += 1
        await asyncio.sleep(0.002)
    deadline = time.monotonic() + 60
    while any(e not in receiver.arrived for e in committed) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return sorted(receiver.arrived[e] - t for e, t in committed.items() if e in receiver.arrived)


async def run(events: int, profile: bool = False) -> dict[str, float]:
    shutil.rmtree(WORK / "postgres", ignore_errors=True)
    server = LocalPostgres(WORK / "postgres")
    dsn = server.start()
    dispatcher: subprocess.Popen[bytes] | None = None
    receiver = FastReceiver()
    listener = await asyncio.start_server(receiver.serve, "127.0.0.1", 0)
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
        rate = await drain(receiver, events)
        print(f"drain: {rate:.0f} deliveries/s", flush=True)
        delays = await latency(db, receiver, organization, client, rate / 2, 20)
        p50, p99 = (quantiles(delays, n=100)[i] for i in (49, 98))
        print(f"latency at {rate / 2:.0f}/s: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms", flush=True)
        await _endpoint(db, keys, organization, f"http://127.0.0.1:{port}/hang")
        receiver.arrived.clear()
        await insert_events(db, organization, client, events)
        with_hang = await drain(receiver, events)
        print(
            f"drain with a hanging endpoint: {with_hang:.0f} deliveries/s ({receiver.hanging} requests hang)"
        )
        return {
            "events": events,
            "drain_per_second": rate,
            "latency_rate": rate / 2,
            "p50_ms": p50 * 1000,
            "p99_ms": p99 * 1000,
            "drain_with_hanging_per_second": with_hang,
            "hanging_requests": receiver.hanging,
        }
    finally:
        if dispatcher is not None:
            dispatcher.send_signal(signal.SIGTERM)
            dispatcher.wait(30)
        receiver.release()
        listener.close()
        await asyncio.sleep(0.1)
        server.stop()


async def _endpoint(db: asyncpg.Connection, keys: str, organization: uuid.UUID, url: str) -> None:
    from service.crypto import CredentialCipher
    from service.webhooks import signing

    endpoint = uuid.uuid4()
    sealed = signing.seal(CredentialCipher.from_text(keys), endpoint, signing.new_secret())
    await db.execute(
        "INSERT INTO webhook_endpoints (id, organization_id, url, event_types, secret, secret_key_id)"
        " VALUES ($1, $2, $3, ARRAY['*'], $4, $5)",
        endpoint, organization, url, sealed.ciphertext, sealed.key_id,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the dispatcher into bench/.work")
    args = parser.parse_args()
    results = asyncio.run(run(args.events, args.profile))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
