"""The system under test, started locally: PostgreSQL, Kafka, API, relay, baselines and peer."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from devtools.kafka import LocalKafka, free_port
from devtools.postgres import LocalPostgres
from service.auth.keys import ensure_private_key_file
from service.crypto import new_key_ring_entry

ROOT = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Service:
    """A process the harness started (uvicorn with its workers, or the relay)."""

    name: str
    process: subprocess.Popen[bytes]
    port: int | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class Stack:
    """The servers and the environment every service process gets."""

    work: Path
    workers: int
    postgres: LocalPostgres = field(init=False)
    kafka: LocalKafka = field(init=False)
    env: dict[str, str] = field(default_factory=dict)

    def start_servers(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        # Commit timestamps let the event latency start at each change's commit (bench/events.py).
        self.postgres = LocalPostgres(self.work / "postgres", settings={"track_commit_timestamp": "on"})
        say(f"starting PostgreSQL in {self.postgres.data_dir} …")
        dsn = self.postgres.start()
        self.kafka = LocalKafka(self.work / "kafka", port=0, progress=say)
        say("starting Kafka …")
        bootstrap = self.kafka.start()
        keys = self.work / "credentials-keys"
        if not keys.exists():
            keys.write_text(new_key_ring_entry("bench1"))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "KAFKA_", "JWT_", "RELAY_"))},
            "DATABASE_URL": dsn,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JWT_PRIVATE_KEY": str(ensure_private_key_file(self.work / "jwt-private.pem")),
            "CREDENTIALS_KEYS": keys.read_text().strip(),
            "WEB_CONCURRENCY": str(self.workers),
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            # Published rows are deleted after a minute (default: a day) so a run can show the bound.
            "OUTBOX_RETENTION_SECONDS": "60",
            "KAFKA_TOPIC_PARTITIONS": "6",
        }

    def stop_servers(self) -> None:
        # Either may not have been created yet when a run is interrupted during start-up.
        with contextlib.suppress(Exception):
            self.kafka.stop()
        with contextlib.suppress(Exception):
            self.postgres.stop()

    @property
    def dsn(self) -> str:
        return self.env["DATABASE_URL"]

    def migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "service", "migrate"], env=self.env, check=True, cwd=ROOT)

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.log(name).open("ab")
        return subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> Path:
        return self.work / f"{name}.log"

    def start_api(self) -> Service:
        port = free_port()
        env = {**self.env, "PORT": str(port), "HOST": "127.0.0.1"}
        service = Service("api", self._spawn("api", [sys.executable, "-m", "service", "api"], env), port)
        service.log = self.log("api")
        _wait_http(service, "/readyz")
        return service

    def start_baselines(self) -> Service:
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "bench.baseline_app:app", "--host", "127.0.0.1"]
        args += [
            "--port",
            str(port),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        service = Service("baselines", self._spawn("baselines", args, self.env), port, self.log("baselines"))
        _wait_http(service, "/item/00000000-0000-4000-8000-000000000000", expect=404)
        return service

    def start_peer(self) -> Service:
        """The FastAPI peer under uvicorn, with the API's worker count (and no access log of its own)."""
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "bench.peer.app:app", "--host", "127.0.0.1"]
        args += ["--port", str(port), "--workers", str(self.workers), "--no-access-log"]
        args += ["--log-level", "warning"]
        service = Service("peer", self._spawn("peer", args, self.env), port, self.log("peer"))
        # Without a token any account is a 401: the app, its dependencies and its settings are loaded.
        _wait_http(service, "/api/accounts/00000000-0000-4000-8000-000000000000", expect=401)
        return service

    def start_relay(self) -> Service:
        return Service("relay", self._spawn("relay", [sys.executable, "-m", "service", "relay"], self.env))

    def postgres_pid(self) -> int:
        return int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])

    def kafka_pid(self) -> int:
        return int((self.kafka.home / "kafka.pid").read_text().strip())


def _wait_http(service: Service, path: str, expect: int = 200, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode} before answering; "
                f"the end of its log ({service.log}):\n{_tail(service.log)}"
            )
        try:
            with urllib.request.urlopen(service.url + path, timeout=2) as response:  # noqa: S310
                if response.status == expect:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code == expect:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{service.name} did not answer {expect} on {service.url}{path} in {timeout:g} s; "
                f"the end of its log ({service.log}):\n{_tail(service.log)}"
            )
        time.sleep(0.3)


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants."""
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    return []


@contextlib.contextmanager
def running(service: Service) -> Iterator[Service]:
    try:
        yield service
    finally:
        service.stop()
