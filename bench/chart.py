"""The results as a picture: each scenario's throughput beside its baseline and the peer, and latencies."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

Results = Mapping[str, Any]
SERVICE, BASELINE, PEER = "#1f77b4", "#9a9a9a", "#ff7f0e"
_LABEL: dict[str, Any] = {"textcoords": "offset points", "va": "center", "fontsize": 7}


def _groups(results: Results) -> list[tuple[str, float, float | None, float | None]]:
    """(scenario, its max rps, its baseline's, its peer's) for every scenario of the service."""
    scenarios = results["scenarios"]
    rps = {s["name"]: s["closed"]["rps"] for s in scenarios}
    peers = {s["peer_of"]: s["closed"]["rps"] for s in scenarios if s.get("peer_of")}
    groups = []
    for s in scenarios:
        if s.get("peer_of") or s["name"] in {x["baseline"] for x in scenarios if x.get("baseline")}:
            continue
        groups.append((s["name"], s["closed"]["rps"], rps.get(s.get("baseline") or ""), peers.get(s["name"])))
    return groups


def render(results: Results, path: Path) -> Path:
    """Write the chart (SVG) to `path`: closed-loop throughput, then open-loop p50 and p99."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Byte-stable SVGs: the same results give the same file.
    matplotlib.rcParams["svg.hashsalt"] = "bench"
    # Text stays text: smaller files whose labels can be searched.
    matplotlib.rcParams["svg.fonttype"] = "none"
    groups = _groups(results)
    timed = [s for s in results["scenarios"] if s.get("open")]
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 0.5 * len(groups) + 0.3 * len(timed) + 3), height_ratios=[len(groups), len(timed)]
    )
    height = 0.27
    for row, (_, mine, base, peer) in enumerate(groups):
        y = len(groups) - 1 - row
        for offset, value, colour in ((height, base, BASELINE), (0, mine, SERVICE), (-height, peer, PEER)):
            if value is None:
                continue
            top.barh(y + offset, value, height, color=colour)
            top.annotate(f"{value:,.0f}", (value, y + offset), xytext=(3, 0), **_LABEL)
    top.set_yticks(range(len(groups)), [g[0] for g in reversed(groups)], fontsize=8)
    top.set_xlabel("max throughput, 2xx answers/s (closed loop)")
    top.bar(0, 0, color=SERVICE, label="service")
    top.bar(0, 0, color=BASELINE, label="its baseline (B1 / B2)")
    top.bar(0, 0, color=PEER, label="FastAPI + SQLAlchemy peer")
    top.legend(loc="lower right", fontsize=8)
    for row, scenario in enumerate(timed):
        y = len(timed) - 1 - row
        p50, p99 = scenario["open"]["p50"] * 1000, scenario["open"]["p99"] * 1000
        colour = (
            PEER if scenario.get("peer_of") else BASELINE if scenario["name"].startswith("B") else SERVICE
        )
        bottom.plot([p50, p99], [y, y], color=colour, linewidth=2)
        bottom.plot([p50], [y], "o", color=colour)
        bottom.plot([p99], [y], "D", color=colour)
        bottom.annotate(f"p50 {p50:.1f} / p99 {p99:.1f} ms", (p99, y), xytext=(7, 0), **_LABEL)
    bottom.set_yticks(range(len(timed)), [s["name"] for s in reversed(timed)], fontsize=8)
    bottom.set_xscale("log")
    bottom.margins(x=0.25)
    bottom.set_xlabel("open-loop latency at half the max rate, ms (● p50, ◆ p99; log scale)")
    meta = results["meta"]
    quick = " (quick run)" if meta.get("quick") else ""
    figure.suptitle(f"accounts service benchmark, {meta['date']}, {meta['scale']} accounts{quick}")
    figure.tight_layout()
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return path
