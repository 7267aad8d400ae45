"""Runs `accounts-service api` as a real child process, the way a container runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

import httpx
import msgspec

from service.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The settings as the environment variables that would produce them (every field, as text)."""
    env = {}
    for name, value in msgspec.structs.asdict(settings).items():
        env[name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return env | dict(overrides)


def api_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The test's settings for an api child process listening on a free loopback port."""
    names = {field.upper() for field in Settings.__struct_fields__}
    inherited = {key: value for key, value in os.environ.items() if key.upper() not in names}
    served = {"HOST": "127.0.0.1", "PORT": str(free_port()), "LOG_FORMAT": "json", "WEB_CONCURRENCY": "1"}
    return inherited | settings_env(settings, **served) | dict(overrides)


class ApiProcess:
    """The api on a free port; its stderr (the log stream) is collected line by line."""

    command = "api"

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.base_url = f"http://127.0.0.1:{self.env['PORT']}"
        self.lines: list[str] = []
        # Each line with the monotonic time it was read, for tests that time what a process did.
        self.timed_lines: list[tuple[float, str]] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", self.command],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self.timed_lines.append((time.monotonic(), self.lines[-1]))

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"api exited with {self.process.returncode}:\n" + "\n".join(self.lines))
            try:
                if httpx.get(f"{self.base_url}/readyz?exclude=kafka", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("api did not become ready:\n" + "\n".join(self.lines))

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=5)


class RelayProcess(ApiProcess):
    """`accounts-service relay` as a child process, with its metrics on a free loopback port."""

    command = "relay"

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(env)
        self.metrics_url = f"http://127.0.0.1:{self.env['RELAY_METRICS_PORT']}/metrics"

    def metrics(self) -> str | None:
        try:
            return httpx.get(self.metrics_url, timeout=2).text
        except httpx.TransportError:
            return None


def relay_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The test's settings for a relay child process; API-only secrets left out as in deployment."""
    env = api_environment(settings, RELAY_METRICS_PORT=str(free_port()), **overrides)
    for name in ("JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY", "JWT_SECRET", "CREDENTIALS_KEYS"):
        env.pop(name, None)
    return env
