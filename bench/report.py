"""The results as a Markdown table, with the targets judged from them."""

from __future__ import annotations

from bench.targets import Results, closed_rps, cpu_per_request, mib, ms, peer_pairs, rate, ratio, targets


def _peer_section(results: Results) -> list[str]:
    pairs = peer_pairs(results)
    if not pairs:
        return []
    lines = [
        "",
        "## The FastAPI peer",
        "",
        "The same endpoints written as a FastAPI + SQLAlchemy 2 (async, asyncpg) + pydantic v2 + PyJWT "
        "team would (`bench/peer/`), under uvicorn with the same worker count, measured in the same "
        "interleaved turns as the service. CPU per request: all server processes (app workers, "
        "PostgreSQL, Kafka, relay), and the app's processes alone.",
        "",
        "| scenario | service max rps | peer max rps | ratio | service CPU ms/req (all · app) "
        "| peer CPU ms/req (all · app) | CPU ratio (all · app) | p99 service / peer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mine, peer in pairs:
        all_mine, all_peer = cpu_per_request(mine), cpu_per_request(peer)
        app_mine, app_peer = cpu_per_request(mine, ("api",)), cpu_per_request(peer, ("peer",))
        p99 = (
            f"{ms(mine['open']['p99'])} / {ms(peer['open']['p99'])}"
            if mine.get("open") and peer.get("open")
            else "–"
        )
        lines.append(
            f"| {mine['name']} | {rate(mine['closed']['rps'])} | {rate(peer['closed']['rps'])} "
            f"| {ratio(mine['closed']['rps'] / max(peer['closed']['rps'], 1e-9))} "
            f"| {all_mine * 1000:.2f} · {app_mine * 1000:.2f} "
            f"| {all_peer * 1000:.2f} · {app_peer * 1000:.2f} "
            f"| {ratio(all_peer / max(all_mine, 1e-12))} · {ratio(app_peer / max(app_mine, 1e-12))} | {p99} |"
        )
    return lines


def markdown(results: Results, reference: Results | None = None, chart: str | None = None) -> str:
    meta = results["meta"]
    lines = [
        f"# Benchmark — {meta['date']}, {meta['scale']} accounts{' (quick run)' if meta['quick'] else ''}",
        "",
        f"Command: `{meta['command']}`",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in meta["machine"].items()],
        f"- load average (1 min) before / after the run: {meta['load_before']:.2f} / "
        f"{meta['load_after']:.2f} (the figure after includes the run's own memory phase)",
        "",
        "Everything shares the same cores: the load generator (oha), the API workers, PostgreSQL, Kafka "
        "and the "
        f"relay. API and baselines both run {meta['workers']} uvicorn worker(s).",
    ]
    if meta.get("loaded"):
        lines += [
            "",
            f"**Warning: the machine was loaded when this run started ({meta['loaded']}); figures are "
            "noisy and lower than on a quiet machine.**",
        ]
    if meta["quick"]:
        lines += ["", "**Quick run: short phases; indicative only, not the committed figures of record.**"]
    lines += [
        "",
        f"Data: {meta['accounts']:,} accounts over {meta['organizations']} organizations × "
        f"{meta['clients_per_organization']} clients (the owner token sees one organization: "
        f"{meta['accounts_per_organization']:,} accounts), plus a pool of {meta['delete_pool']:,} accounts "
        f"in another organization for DELETE; seeded in {meta['seed_seconds']:.0f} s.",
        "",
        "## Throughput and latency",
        "",
        f"Closed loop: {meta['closed_seconds']:g} s at {meta['connections']} connections (max throughput of "
        "2xx answers). Open loop: a fixed rate (half the closed-loop maximum"
        f"{', the same rates as the reference run' if meta.get('rates_from') else ''}) for "
        f"{meta['open_seconds']:g} s, latency-corrected. CPU ms/request: CPU time of all server processes "
        "(API workers or baseline workers, PostgreSQL, Kafka, relay) during the closed-loop phase "
        "÷ 2xx answers; "
        "the load generator's own CPU is shown apart.",
        "",
        "| scenario | max rps | vs baseline | open-loop rate | p50 | p99 | CPU ms/req (api·pg·kafka·relay) "
        "| loadgen CPU ms/req | 2xx |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results["scenarios"]:
        closed, opened = s["closed"], s.get("open") or {}
        compared = s.get("baseline") or s.get("peer_of")
        base = closed_rps(results, compared) if compared else None
        vs = f"{ratio(closed['rps'] / base)} {compared}" if base else "–"
        roles = closed["cpu_by_role"]
        parts = "·".join(f"{roles.get(r, 0) * 1000 / max(closed['ok'], 1):.2f}" for r in s["cpu_roles"])
        lines.append(
            f"| {s['name']} | {rate(closed['rps'])} | {vs} | {rate(opened.get('rate'))} "
            f"| {ms(opened.get('p50'))} "
            f"| {ms(opened.get('p99'))} | {closed['cpu_per_request'] * 1000:.2f} ({parts}) "
            f"| {closed['loadgen_cpu_per_request'] * 1000:.2f} | {closed['ok_share'] * 100:.1f} % |"
        )
    if chart:
        lines += ["", f"![Throughput beside baselines and peer, and latencies]({chart})"]
    lines += _peer_section(results)
    if mixed := results.get("mixed_parts"):
        lines += [
            "",
            "Mixed dashboard workload, open-loop parts:",
            "",
            "| part | share | rate | p50 | p99 |",
            "|---|---:|---:|---:|---:|",
        ]
        for part in mixed:
            lines.append(
                f"| {part['name']} | {part['share'] * 100:.0f} % | {rate(part['rate'])} "
                f"| {ms(part['p50'])} | {ms(part['p99'])} |"
            )
    lines += ["", "## Events", ""]
    if relay := results.get("relay"):
        lines.append(
            f"- Relay drain: {relay['events']:,} backlog events published in "
            f"{relay['publish_seconds']:.1f} s "
            f"(first to last `published_at`) = **{rate(relay['rate'], ' events/s')}**; "
            f"{relay['wall_seconds']:.1f} s from relay start to an empty outbox. "
            "Each event is two Kafka records "
            "(history and compacted state topic)."
        )
    if b3 := results.get("b3"):
        lines.append(
            f"- B3 bare aiokafka idempotent producer (acks=all, in-process, same records): {b3['events']:,} "
            f"events in {b3['seconds']:.1f} s = **{rate(b3['rate'], ' events/s')}**."
        )
    if latency := results.get("latency"):
        lines.append(
            f"- Commit → Kafka ack at {rate(latency['write_rate'])} PATCHes (half the max write rate), "
            f"{latency['events']:,} events: p50 **{ms(latency['p50'])}**, p99 **{ms(latency['p99'])}**, "
            f"max {ms(latency['max'])}. Measured per event from the commit of its change (PostgreSQL's "
            "commit timestamp of the writing transaction, `track_commit_timestamp=on` in the bench) to the "
            "outbox row's `published_at`, which the relay sets right after Kafka acknowledged (acks=all) "
            "the batch holding the event; it includes the relay's marking statement."
        )
    if outbox := results.get("outbox"):
        lines.append(
            f"- Outbox under sustained writes ({outbox['seconds']:.0f} s at "
            f"{rate(outbox['write_rate'])} writes, "
            f"OUTBOX_RETENTION_SECONDS={outbox['retention']:g}, clean-up every 60 s): at most "
            f"{outbox['max_rows']:,} rows and {outbox['max_pending']:,} pending; rows over time: "
            f"{', '.join(f'{n:,}' for n in outbox['rows_over_time'])}."
        )
    if cost := results.get("query_cost"):
        generic = [(n, c) for n, c in cost.items() if "generic" in n]
        if generic:
            lines += ["", "## Query plans", ""]
            lines.append(
                "- The cursor pages' collection query under a *generic* plan "
                "(`plan_cache_mode=force_generic_plan`): "
                + ", ".join(f"{n.split(' ')[0]} page {ms(c['median_seconds'])}" for n, c in generic)
                + ". Under the default `auto` mode PostgreSQL keeps custom plans for it "
                "(the HTTP figures above), "
                "but the `($n IS NULL OR column = $n)` filters leave no index condition to a generic plan."
            )
    lines += ["", "## Memory", ""]
    if memory := results.get("memory"):
        lines.append(
            f"- API worker RSS over a {memory['seconds'] / 60:.1f}-minute run of the mixed workload at "
            f"{rate(memory['rate'])}: {mib(memory['start_rss'])} after warm-up → "
            f"{mib(memory['end_rss'])} at the end "
            f"({memory['growth'] * 100:+.1f} %); samples: {', '.join(mib(v) for v in memory['samples'])}."
        )
    lines += [
        "",
        "Peak RSS per process over the whole run:",
        "",
        "| process | peak RSS (largest process) | peak RSS (all its processes) |",
        "|---|---:|---:|",
    ]
    for role, peak in results["peak_rss"].items():
        lines.append(f"| {role} | {mib(peak)} | {mib(results['peak_total_rss'].get(role))} |")
    lines += ["", "## Targets", "", "| target | figure | status |", "|---|---|---|"]
    for target in targets(results, reference):
        lines.append(f"| {target.name} | {target.figure} | {target.status} |")
    if notes := results.get("notes"):
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Render a results JSON again, table and chart (`python -m bench.report RESULTS.json [REF.json]`)."""
    import json
    import sys
    from pathlib import Path

    from bench.chart import render

    path = Path(sys.argv[1])
    results = json.loads(path.read_text())
    reference = json.loads(Path(sys.argv[2]).read_text()) if len(sys.argv) > 2 else None
    chart = path.with_suffix(".svg")
    path.with_suffix(".md").write_text(markdown(results, reference, chart=chart.name))
    render(results, chart)


if __name__ == "__main__":
    main()
