"""CPU seconds and resident memory of every process of the system under test, by role."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

Finder = Callable[[], list[psutil.Process]]


def _cpu(process: psutil.Process) -> float | None:
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return float(times.user + times.system)
    return None


def _rss(process: psutil.Process) -> int | None:
    with contextlib.suppress(psutil.Error):
        return int(process.memory_info().rss)
    return None


def api_workers(processes: list[psutil.Process]) -> list[psutil.Process]:
    """uvicorn's worker processes; with one worker uvicorn serves from the main process itself."""
    workers = []
    for process in processes[1:]:
        with contextlib.suppress(psutil.Error):
            if any("spawn_main" in part for part in process.cmdline()):
                workers.append(process)
    return workers or processes[:1]


@dataclass
class CpuSnapshot:
    by_pid: dict[str, dict[int, float]]

    def since(self, earlier: CpuSnapshot) -> dict[str, float]:
        """CPU seconds each role spent between the two snapshots (new processes count from zero)."""
        spent: dict[str, float] = {}
        for role, pids in self.by_pid.items():
            before = earlier.by_pid.get(role, {})
            spent[role] = sum(max(0.0, now - before.get(pid, 0.0)) for pid, now in pids.items())
        return spent


@dataclass
class Accounting:
    """Roles → how to find their processes; a sampler thread keeps each process's peak RSS."""

    roles: dict[str, Finder]
    peak_rss: dict[str, int] = field(default_factory=dict)
    peak_total_rss: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def snapshot(self) -> CpuSnapshot:
        by_pid: dict[str, dict[int, float]] = {}
        for role, find in self.roles.items():
            by_pid[role] = {}
            for process in find():
                if (cpu := _cpu(process)) is not None:
                    by_pid[role][process.pid] = cpu
        return CpuSnapshot(by_pid)

    def rss(self, role: str) -> dict[int, int]:
        return {p.pid: rss for p in self.roles[role]() if (rss := _rss(p)) is not None}

    def sample_rss(self) -> None:
        for role in self.roles:
            sizes = self.rss(role)
            if sizes:
                self.peak_rss[role] = max(self.peak_rss.get(role, 0), *sizes.values())
                self.peak_total_rss[role] = max(self.peak_total_rss.get(role, 0), sum(sizes.values()))

    def start(self, interval: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                with contextlib.suppress(Exception):
                    self.sample_rss()

        self._thread = threading.Thread(target=loop, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
