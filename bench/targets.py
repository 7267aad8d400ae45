"""The targets judged from a run's results, and the figures' formatting the report shares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Results = Mapping[str, Any]
# Targets of the issue: the write ratios hold from this many concurrent writers, the service beats the
# peer on these scenarios by this factor, and worker RSS is flat within this share over this long.
MIN_WRITERS = 8
PEER_JUDGED = ("GET item", "POST")
PEER_FACTOR = 5.0
FLAT = 0.02
SOAK_MINUTES = 10


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def rate(value: float | None, unit: str = "/s") -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}{unit}" if value >= 100 else f"{value:.1f}{unit}"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def mib(size: int | None) -> str:
    return "–" if size is None else f"{size / 2**20:.0f} MiB"


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    figure: str
    met: bool | None  # None: not measured in this run

    @property
    def status(self) -> str:
        return "not measured" if self.met is None else "**met**" if self.met else "**not met**"


def _scenario(results: Results, name: str) -> Mapping[str, Any] | None:
    return next((s for s in results["scenarios"] if s["name"] == name), None)


def closed_rps(results: Results, name: str) -> float | None:
    found = _scenario(results, name)
    return None if found is None else found["closed"]["rps"]


def _open_p99(results: Results, name: str) -> float | None:
    found = _scenario(results, name)
    return None if found is None or found.get("open") is None else found["open"]["p99"]


def _ratio_target(results: Results, name: str, baseline: str, floor: float) -> Target:
    mine, base = closed_rps(results, name), closed_rps(results, baseline)
    if not mine or not base:
        return Target(f"{name} ≥ {floor} × {baseline}", "–", None)
    return Target(
        f"{name} ≥ {floor} × {baseline} throughput",
        f"{rate(mine)} vs {rate(base)} = {ratio(mine / base)}",
        mine / base >= floor,
    )


def _writers_target(results: Results, name: str) -> Target:
    """A write ratio holds only when the closed loop had at least MIN_WRITERS concurrent writers."""
    target = _ratio_target(results, name, "B2", 0.9)
    writers = results["meta"].get("connections", 0)
    if target.met is None or writers >= MIN_WRITERS:
        return Target(f"{target.name}, {writers} concurrent writers", target.figure, target.met)
    return Target(f"{target.name}, {MIN_WRITERS}+ concurrent writers", f"only {writers} writers", None)


def cpu_per_request(scenario: Mapping[str, Any], roles: tuple[str, ...] | None = None) -> float:
    """CPU seconds per 2xx answer: all the scenario's server processes, or only `roles`."""
    closed = scenario["closed"]
    if roles is None:
        return float(closed["cpu_per_request"])
    return float(sum(closed["cpu_by_role"].get(r, 0.0) for r in roles) / max(closed["ok"], 1))


def _page_cpu_targets(results: Results) -> list[Target]:
    item = _scenario(results, "GET item")
    found = []
    for name in ("GET first page", "GET first page (cursor)"):
        page = _scenario(results, name)
        title = f"{name} CPU per request ≤ 2 × GET item's"
        if item is None or page is None:
            found.append(Target(title, "–", None))
            continue
        mine, its = cpu_per_request(page), cpu_per_request(item)
        found.append(
            Target(title, f"{mine * 1000:.2f} vs {its * 1000:.2f} ms = {ratio(mine / its)}", mine <= 2 * its)
        )
    return found


def peer_pairs(results: Results) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(the service's scenario, the peer's) for each scenario the peer was measured on."""
    pairs = []
    for peer in results["scenarios"]:
        mine = _scenario(results, peer["peer_of"]) if peer.get("peer_of") else None
        if mine is not None:
            pairs.append((mine, peer))
    return pairs


def _peer_targets(results: Results) -> list[Target]:
    """≥ 5 × the peer: in throughput, and in CPU per request of all the server processes."""
    measured = {mine["name"]: (mine, peer) for mine, peer in peer_pairs(results)}
    found = []
    for name in PEER_JUDGED:
        title = f"{name} ≥ {PEER_FACTOR:g} × the FastAPI peer (throughput and CPU per request)"
        if name not in measured:
            found.append(Target(title, "–", None))
            continue
        mine, peer = measured[name]
        speed = mine["closed"]["rps"] / max(peer["closed"]["rps"], 1e-9)
        cpu_mine, cpu_peer = cpu_per_request(mine), cpu_per_request(peer)
        thrift = cpu_peer / max(cpu_mine, 1e-12)
        found.append(
            Target(
                title,
                f"{rate(mine['closed']['rps'])} vs {rate(peer['closed']['rps'])} = {ratio(speed)}; CPU "
                f"{cpu_mine * 1000:.2f} vs {cpu_peer * 1000:.2f} ms/req = {ratio(thrift)}",
                speed >= PEER_FACTOR and thrift >= PEER_FACTOR,
            )
        )
    return found


def targets(results: Results, reference: Results | None) -> list[Target]:
    """Each target of the issue, with the figure that decides it."""
    found = [_ratio_target(results, "GET item", "B1", 0.8), *_page_cpu_targets(results)]
    found += [_writers_target(results, "POST"), _writers_target(results, "PATCH"), *_peer_targets(results)]
    relay, b3 = results.get("relay"), results.get("b3")
    write_rate = max(closed_rps(results, "POST") or 0.0, closed_rps(results, "PATCH") or 0.0)
    if relay and b3:
        found.append(
            Target(
                "relay drain ≥ 0.8 × B3",
                f"{rate(relay['rate'])} vs {rate(b3['rate'])} = {ratio(relay['rate'] / b3['rate'])}",
                relay["rate"] >= 0.8 * b3["rate"],
            )
        )
    if relay and write_rate:
        found.append(
            Target(
                "relay drain ≥ 3 × sustained write rate",
                f"{rate(relay['rate'])} vs {rate(write_rate)} = {ratio(relay['rate'] / write_rate)}",
                relay["rate"] >= 3 * write_rate,
            )
        )
    if latency := results.get("latency"):
        found.append(Target("event latency p50 ≤ 10 ms", ms(latency["p50"]), latency["p50"] <= 0.010))
        found.append(
            Target(
                "commit → Kafka ack p99 ≤ 25 ms at half the write rate",
                f"{ms(latency['p99'])} at {rate(latency['write_rate'])} PATCHes",
                latency["p99"] <= 0.025,
            )
        )
    found += _scale_targets(results, reference)
    found += _depth_targets(results)
    if outbox := results.get("outbox"):
        settled = outbox.get("settled_max_rows")
        name = "outbox stays bounded under sustained writes"
        if settled is None:
            found.append(Target(name, "the run was shorter than retention + two clean-ups", None))
        else:
            found.append(
                Target(
                    name,
                    f"≤ {settled:,} rows once earlier rows aged out (bound {outbox['bound_rows']:,}), "
                    f"≤ {outbox['max_pending']:,} pending, at {rate(outbox['write_rate'])} writes",
                    settled <= outbox["bound_rows"] and outbox["max_pending"] <= outbox["pending_bound"],
                )
            )
    if memory := results.get("memory"):
        found.append(
            Target(
                "API worker RSS ≤ 100 MiB",
                mib(memory["peak_worker_rss"]),
                memory["peak_worker_rss"] <= 100 * 2**20,
            )
        )
        figure = f"{memory['growth'] * 100:+.1f} % ({mib(memory['start_rss'])} → {mib(memory['end_rss'])})"
        title = f"API worker RSS flat (grows ≤ {FLAT * 100:g} %) over {SOAK_MINUTES} min"
        if memory["seconds"] < SOAK_MINUTES * 60:
            figure += f" over a {memory['seconds'] / 60:.1f}-minute run only"
            found.append(Target(title, figure, None))
        else:
            found.append(Target(title, figure, memory["growth"] <= FLAT))
    return found


def _depth_targets(results: Results) -> list[Target]:
    """A deep cursor page against the first: the query's work in PostgreSQL, and what HTTP clients saw."""
    name = "deep cursor page costs the same as the first page"
    first, deep = _scenario(results, "GET first page (cursor)"), _scenario(results, "GET deep page (cursor)")
    http = ""
    if first and deep and first.get("open") and deep.get("open"):
        cpu = deep["closed"]["cpu_per_request"] / first["closed"]["cpu_per_request"]
        http = (
            f"; over HTTP: CPU/request {ratio(cpu)}"
            f", p99 {ratio(deep['open']['p99'] / first['open']['p99'])}"
            f", max rps {ratio(deep['closed']['rps'] / first['closed']['rps'])} of the first page"
        )
    cost = results.get("query_cost")
    if not cost:
        return [Target(name, f"query cost not measured{http}", None)]
    # Judged on custom plans: what PostgreSQL picks for these statements under plan_cache_mode=auto (the
    # default); the generic plan's time is reported in the events section as a hazard.
    parts, same = [], True
    for mode in ("custom",):
        a, b = cost.get(f"first ({mode})"), cost.get(f"deep ({mode})")
        if not a or not b:
            continue
        parts.append(
            f"{mode} plan: {a['buffers']} → {b['buffers']} buffers, "
            f"{a['rows_scanned']} → {b['rows_scanned']} rows scanned, "
            f"{ms(a['median_seconds'])} → {ms(b['median_seconds'])}"
        )
        same = (
            same
            and b["buffers"] <= 1.2 * a["buffers"] + 2
            and b["rows_scanned"] <= 1.2 * a["rows_scanned"] + 2
        )
    return [Target(name, "query " + "; ".join(parts) + http, same)]


def _scale_targets(results: Results, reference: Results | None) -> list[Target]:
    names = ("GET item", "GET first page", "GET first page (cursor)")
    if reference is None or reference["meta"]["accounts"] >= results["meta"]["accounts"]:
        return [
            Target(f"{n} p99 grows ≤ 1.2× from the smaller scale", "needs a smaller-scale run", None)
            for n in names
        ]
    found = []
    for name in names:
        small, large = _open_p99(reference, name), _open_p99(results, name)
        if not small or not large:
            continue
        found.append(
            Target(
                f"{name} p99 grows ≤ 1.2× from {reference['meta']['scale']} to {results['meta']['scale']}",
                f"{ms(small)} → {ms(large)} = {ratio(large / small)}",
                large / small <= 1.2,
            )
        )
    return found
