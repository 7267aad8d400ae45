# ruff: noqa: RUF001  (the results table uses typographic signs on purpose)
"""The benchmark harness's pure helpers: oha's report parsing, scale parsing, target judgement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.chart import render
from bench.oha import parse
from bench.report import markdown
from bench.seed import parse_scale
from bench.targets import targets


def _oha_report(**statuses: int) -> dict[str, Any]:
    return {
        "summary": {"total": 2.0, "requestsPerSec": 100.0, "successRate": 1.0},
        "statusCodeDistribution": {code.lstrip("s"): n for code, n in statuses.items()},
        "latencyPercentiles": {"p50": 0.5, "p99": 0.9},
        "latencyPercentilesSuccessful": {"p50": 0.002, "p99": 0.020},
    }


def test_oha_counts_only_2xx_answers_and_reads_their_percentiles() -> None:
    load = parse(_oha_report(s204=150, s404=50))
    assert (load.requests, load.ok, load.ok_rps, load.ok_share) == (200, 150, 75.0, 0.75)
    assert (load.p50, load.p99) == (0.002, 0.020)


def test_scales_read_with_suffixes() -> None:
    assert [parse_scale(s) for s in ("10k", "1m", "1M", "2500", "1.5k")] == [
        10_000,
        1_000_000,
        1_000_000,
        2500,
        1500,
    ]


def _scenario(name: str, rps: float, p99: float, baseline: str | None = None) -> dict[str, Any]:
    closed = {
        "rps": rps,
        "ok": int(rps * 10),
        "ok_share": 1.0,
        "p50": None,
        "p99": None,
        "statuses": {},
        "cpu_by_role": {"api": 1.0},
        "cpu_per_request": 0.002,
        "loadgen_cpu_per_request": 0.0001,
    }
    return {
        "name": name,
        "baseline": baseline,
        "cpu_roles": ["api"],
        "closed": closed,
        "open": {"rate": rps / 2, "rps": rps / 2, "p50": p99 / 4, "p99": p99, "ok_share": 1.0},
    }


def _results(accounts: int, item_p99: float) -> dict[str, Any]:
    return {
        "meta": {
            "date": "2025-01-01",
            "scale": f"{accounts // 1000}k",
            "accounts": accounts,
            "quick": False,
            "workers": 2,
            "command": "python -m bench",
            "machine": {"CPU": "test"},
            "load_before": 0.5,
            "load_after": 0.7,
            "loaded": None,
            "organizations": 10,
            "clients_per_organization": 10,
            "accounts_per_organization": accounts // 10,
            "delete_pool": 100,
            "seed_seconds": 1.0,
            "closed_seconds": 10,
            "open_seconds": 10,
            "connections": 32,
        },
        "scenarios": [
            _scenario("B1", 1000, 0.004),
            _scenario("GET item", 700, item_p99, "B1"),
            _scenario("B2", 500, 0.01),
            _scenario("PATCH", 250, 0.02, "B2"),
        ],
        "relay": {"events": 1000, "wall_seconds": 1.0, "publish_seconds": 0.5, "rate": 2000.0},
        "b3": {"events": 1000, "seconds": 0.3, "rate": 3333.0},
        "latency": {"write_rate": 125.0, "events": 100, "p50": 0.004, "p99": 0.150, "max": 0.2},
        "peak_rss": {"api worker": 80 * 2**20},
        "peak_total_rss": {"api worker": 160 * 2**20},
    }


def test_targets_are_judged_on_their_figures() -> None:
    judged = {t.name: t for t in targets(_results(1_000_000, 0.006), _results(10_000, 0.005))}
    assert judged["GET item ≥ 0.8 × B1 throughput"].met is False
    assert judged["PATCH ≥ 0.9 × B2 throughput, 32 concurrent writers"].met is False
    assert judged["event latency p50 ≤ 10 ms"].met is True
    assert judged["commit → Kafka ack p99 ≤ 25 ms at half the write rate"].met is False
    assert judged["relay drain ≥ 0.8 × B3"].met is False
    assert judged["relay drain ≥ 3 × sustained write rate"].met is True
    assert judged["GET item p99 grows ≤ 1.2× from 10k to 1000k"].figure == "5.00 ms → 6.00 ms = 1.20×"
    # No peer scenario in these results: the peer target is reported, not judged.
    assert judged["GET item ≥ 5 × the FastAPI peer (throughput and CPU per request)"].met is None


def _with_peer(item_rps: float, item_cpu: float) -> dict[str, Any]:
    results = _results(10_000, 0.005)
    peer = _scenario("peer GET item", 100, 0.03)
    peer["peer_of"] = "GET item"
    peer["closed"]["cpu_per_request"] = 0.004
    item = next(s for s in results["scenarios"] if s["name"] == "GET item")
    item["closed"]["rps"], item["closed"]["cpu_per_request"] = item_rps, item_cpu
    results["scenarios"].append(peer)
    return results


def test_the_peer_target_needs_both_throughput_and_cpu_five_times_better() -> None:
    name = "GET item ≥ 5 × the FastAPI peer (throughput and CPU per request)"
    met = {t.name: t for t in targets(_with_peer(600, 0.0008), None)}[name]
    assert met.met is True
    assert met.figure == "600/s vs 100/s = 6.00×; CPU 0.80 vs 4.00 ms/req = 5.00×"
    assert {t.name: t for t in targets(_with_peer(600, 0.001), None)}[name].met is False
    assert {t.name: t for t in targets(_with_peer(400, 0.0005), None)}[name].met is False


def test_writes_are_judged_only_with_enough_concurrent_writers() -> None:
    results = _results(10_000, 0.005)
    results["meta"]["connections"] = 4
    judged = {t.name: t for t in targets(results, None)}
    assert judged["PATCH ≥ 0.9 × B2 throughput, 8+ concurrent writers"].met is None


def test_the_table_names_the_machine_and_marks_each_target() -> None:
    text = markdown(_results(10_000, 0.005), chart="run.svg")
    assert "- CPU: test" in text
    assert "| GET item | 700/s | 0.70× B1 |" in text
    patch = "| PATCH ≥ 0.9 × B2 throughput, 32 concurrent writers | 250/s vs 500/s = 0.50× | **not met** |"
    assert patch in text
    assert "](run.svg)" in text


def test_the_peer_comparison_table() -> None:
    text = markdown(_with_peer(600, 0.0008))
    assert "## The FastAPI peer" in text
    assert "| GET item | 600/s | 100/s | 6.00× | 0.80 · " in text
    assert "| peer GET item | 100/s | 0.17× GET item |" in text


def test_the_chart_shows_each_scenario_with_its_baseline_and_peer(tmp_path: Path) -> None:
    svg = render(_with_peer(600, 0.0008), tmp_path / "run.svg").read_text()
    assert svg.startswith("<?xml")
    for label in ("GET item", "PATCH", "peer GET item", "FastAPI + SQLAlchemy peer", ">600<", ">100<"):
        assert label in svg, label
