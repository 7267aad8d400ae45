"""CPU time per delivery of each part of the webhook bench: the dispatcher, PostgreSQL, the harness."""

from __future__ import annotations

from pathlib import Path

import psutil


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    spent = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        spent += times.user + times.system
    return spent


class Cpu:
    """CPU seconds of the dispatcher, PostgreSQL (all its backends) and this harness (the receiver)."""

    def __init__(self, dispatcher: int, postgres_dir: Path) -> None:
        self._dispatcher = psutil.Process(dispatcher)
        self._postgres_dir = str(postgres_dir)
        self._harness = psutil.Process()

    def _postgres(self) -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["name", "cmdline"]):
            command = " ".join(process.info["cmdline"] or [])
            if process.info["name"] == "postgres" and self._postgres_dir in command:
                found.append(process)
                found.extend(process.children())
        return found

    def snapshot(self) -> dict[str, float]:
        return {
            "dispatcher": _cpu_seconds([self._dispatcher]),
            "postgres": _cpu_seconds(self._postgres()),
            "harness_and_receiver": _cpu_seconds([self._harness]),
        }

    @staticmethod
    def per_delivery_ms(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
        return {role: round((after[role] - before[role]) * 1000 / count, 3) for role in before}
