"""The load generator: oha, installed from crates.io when missing, run once per measurement."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CARGO_BIN = Path.home() / ".cargo" / "bin"


@dataclass(frozen=True, slots=True)
class Load:
    """What one oha run measured; latencies in seconds."""

    requests: int
    ok: int
    seconds: float
    p50: float
    p99: float
    statuses: dict[str, int]

    @property
    def ok_rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def ok_share(self) -> float:
        return self.ok / self.requests if self.requests else 0.0


def find_oha() -> str | None:
    found = shutil.which("oha")
    if found:
        return found
    candidate = _CARGO_BIN / "oha"
    return str(candidate) if candidate.exists() else None


def ensure_oha() -> str:
    """The oha executable; built with `cargo install oha --locked` on a machine without one."""
    found = find_oha()
    if found:
        return found
    cargo = shutil.which("cargo") or str(_CARGO_BIN / "cargo")
    if not Path(cargo).exists():
        raise SystemExit("the load generator oha is missing and so is cargo (install Rust from rustup.rs)")
    print("installing the load generator: cargo install oha --locked (a few minutes, once) …", flush=True)
    subprocess.run([cargo, "install", "oha", "--locked"], check=True, stdout=sys.stderr)
    found = find_oha()
    if found is None:
        raise SystemExit("cargo install oha finished but no oha executable was found")
    return found


def version(oha: str) -> str:
    return subprocess.run([oha, "--version"], capture_output=True, text=True, check=True).stdout.strip()


@dataclass(frozen=True, slots=True)
class Request:
    """One kind of request: a URL (or a file of URLs picked at random) and what goes with it."""

    url: str
    method: str = "GET"
    headers: tuple[str, ...] = ()
    urls_file: Path | None = None
    body_lines: Path | None = None
    content_type: str | None = None


def command(oha: str, request: Request, *, seconds: float, connections: int, rate: float | None) -> list[str]:
    """oha's command line: closed loop without `rate`, open loop (latency-corrected) with it."""
    args = [oha, "--no-tui", "--output-format", "json", "-z", f"{seconds:g}s", "-c", str(connections)]
    # -w: a slow answer still in flight at the deadline is waited for and counted, not dropped.
    args += ["-m", request.method, "--stats-success-breakdown", "-t", "30s", "-w"]
    if rate is not None:
        args += ["-q", f"{rate:.1f}", "--latency-correction"]
    for header in request.headers:
        args += ["-H", header]
    if request.content_type:
        args += ["-T", request.content_type]
    if request.body_lines:
        args += ["-Z", str(request.body_lines)]
    if request.urls_file:
        args += ["--urls-from-file", str(request.urls_file)]
    else:
        args.append(request.url)
    return args


def start(
    oha: str, request: Request, *, seconds: float, connections: int, rate: float | None
) -> subprocess.Popen[str]:
    env = {**os.environ, "TOKIO_WORKER_THREADS": "1"}
    return subprocess.Popen(
        command(oha, request, seconds=seconds, connections=connections, rate=rate),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen[str]) -> Load:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"oha failed ({process.returncode}): {err.strip()[-2000:]}")
    return parse(json.loads(out))


def parse(report: dict[str, Any]) -> Load:
    """Read oha's JSON report: successful responses, and the latency percentiles of those."""
    summary = report["summary"]
    statuses = {str(code): int(count) for code, count in report.get("statusCodeDistribution", {}).items()}
    ok = sum(count for code, count in statuses.items() if code.startswith("2"))
    percentiles = report.get("latencyPercentilesSuccessful") or report.get("latencyPercentiles") or {}
    return Load(
        requests=sum(statuses.values()),
        ok=ok,
        seconds=float(summary["total"]),
        p50=float(percentiles.get("p50") or 0.0),
        p99=float(percentiles.get("p99") or 0.0),
        statuses=statuses,
    )
