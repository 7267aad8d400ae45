"""A local single-node Apache Kafka broker (KRaft) run from jars fetched off Maven Central."""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import signal
import subprocess
import time
from collections.abc import Callable

from devtools.kafka_config import LOG4J2_PROPERTIES, cluster_id, min_heap
from devtools.kafka_jars import KAFKA_VERSION, MIN_JAVA, ensure_jars, find_java, java_available
from devtools.kafka_probe import HOST, answers, free_port, port_in_use
from devtools.processes import locked, pid_alive, tail, wait_gone

__all__ = ["KAFKA_VERSION", "LocalKafka", "free_port", "java_available"]


class LocalKafka:
    """A single-node KRaft Kafka broker listening on 127.0.0.1, owning one home directory."""

    def __init__(
        self,
        home: pathlib.Path,
        port: int = 9092,
        controller_port: int | None = None,
        heap: str = "512m",
        cache_dir: pathlib.Path | None = None,
        progress: Callable[[str], None] = print,
    ) -> None:
        """Describe the broker; nothing is fetched or started until start()."""
        self._home = pathlib.Path(home).expanduser().resolve()
        self._port = port or free_port()
        if controller_port is None:
            controller_port = self._port + 1 if port else free_port()
        self._controller_port = controller_port
        self._heap = heap
        self._cache_dir = cache_dir
        self._progress = progress
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The broker's address as host:port."""
        return f"{HOST}:{self._port}"

    @property
    def home(self) -> pathlib.Path:
        """The directory holding the broker's config, data and logs."""
        return self._home

    @property
    def log_file(self) -> pathlib.Path:
        """The broker's log4j log."""
        return self._home / "logs" / "server.log"

    @property
    def _config(self) -> pathlib.Path:
        return self._home / "server.properties"

    @property
    def _pid_file(self) -> pathlib.Path:
        return self._home / "kafka.pid"

    @property
    def _console_log(self) -> pathlib.Path:
        return self._home / "logs" / "kafka.out"

    def start(self, timeout: float = 90.0) -> str:
        """Start the broker unless it already runs, wait until it answers, and return host:port."""
        self._home.mkdir(parents=True, exist_ok=True)
        with locked(self._home):
            pid = self._running_pid()
            if pid is not None:
                self._port = self._configured_port() or self._port
            else:
                pid = self._launch()
            self._wait_ready(pid, timeout)
        return self.bootstrap_servers

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker with SIGTERM, then SIGKILL after the timeout; do nothing if not running."""
        if not self._home.is_dir():
            return
        with locked(self._home):
            pid = self._running_pid()
            if pid is not None:
                self._terminate(pid, timeout)
            self._pid_file.unlink(missing_ok=True)

    def _running_pid(self) -> int | None:
        """Return the pid from the pid file if that process is alive and is this broker."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not pid_alive(pid):
            return None
        try:
            cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return pid
        # The pid may have been reused by an unrelated process since the broker died.
        return pid if os.fsencode(self._config) in cmdline else None

    def _configured_port(self) -> int | None:
        """Return the client port in the current server.properties."""
        try:
            text = self._config.read_text()
        except OSError:
            return None
        match = re.search(r"^advertised\.listeners=PLAINTEXT://[^:]+:(\d+)", text, re.MULTILINE)
        return int(match.group(1)) if match else None

    def _launch(self) -> int:
        """Write the config, format storage if new, start the JVM detached and return its pid."""
        java = find_java()
        if java is None or not java_available():
            raise RuntimeError(
                f"the Kafka broker needs Java {MIN_JAVA}+ (set JAVA_HOME or put java on PATH)"
            )
        for port in (self._port, self._controller_port):
            if port_in_use(port):
                raise RuntimeError(f"cannot start Kafka in {self._home}: port {port} is already in use")
        libs = ensure_jars(self._cache_dir, self._progress)
        self._write_config()
        self._format_storage(java, libs)
        return self._spawn(java, libs)

    def _write_config(self) -> None:
        """Write server.properties and the log4j2 config into the home dir."""
        (self._home / "logs").mkdir(exist_ok=True)
        (self._home / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{self._controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self._port},CONTROLLER://{HOST}:{self._controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self._port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self._home / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            # One partition instead of 50 makes the first consumer group much faster to serve.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Sized for a small heap on a 2-core machine rather than a production server.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        }
        self._config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))

    def _format_storage(self, java: str, libs: pathlib.Path) -> None:
        """Format the KRaft log dir with a new cluster id, unless it was formatted before."""
        if (self._home / "data" / "meta.properties").exists():
            return
        # No log4j2 config here: log4j's default sends only errors to stderr, which we capture.
        command = [java, "-cp", f"{libs}{os.sep}*", "kafka.tools.StorageTool"]
        command += ["format", "-t", cluster_id(), "-c", str(self._config), "--ignore-formatted"]
        done = subprocess.run(  # noqa: S603  (arguments built here)
            command,
            cwd=self._home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"formatting Kafka storage in {self._home} failed:\n{done.stdout}{done.stderr}"
            )

    def _jvm_logging_flags(self) -> list[str]:
        """Return the JVM flags that point log4j2 at the home dir's config and logs."""
        return [
            f"-Dlog4j2.configurationFile={self._home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self._home / 'logs'}",
        ]

    def _spawn(self, java: str, libs: pathlib.Path) -> int:
        """Start the broker JVM in its own session and record its pid."""
        command = [java, f"-Xmx{self._heap}", f"-Xms{min_heap(self._heap)}", "-XX:+ExitOnOutOfMemoryError"]
        # C1 only: the JIT competes less for 2 cores at startup, and a local broker never needs C2's peak.
        command += ["-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true", *self._jvm_logging_flags()]
        command += ["-cp", f"{libs}{os.sep}*", "kafka.Kafka", str(self._config)]
        with self._console_log.open("wb") as console:
            # Own session: a Ctrl-C aimed at the caller must not kill the broker mid-write.
            self._process = subprocess.Popen(  # noqa: S603  (arguments built here)
                command,
                cwd=self._home,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pid_file.write_text(f"{self._process.pid}\n")
        return self._process.pid

    def _wait_ready(self, pid: int, timeout: float) -> None:
        """Wait until the broker answers a metadata request; stop it and raise if it never does."""
        deadline = time.monotonic() + timeout
        while not answers(self._port):
            if not self._alive(pid):
                self._pid_file.unlink(missing_ok=True)
                raise RuntimeError(
                    f"the Kafka broker in {self._home} exited during startup\n{self._log_tails()}"
                )
            if time.monotonic() > deadline:
                tails = self._log_tails()
                self._terminate(pid, 10.0)
                self._pid_file.unlink(missing_ok=True)
                raise RuntimeError(
                    f"the Kafka broker in {self._home} did not answer on {self.bootstrap_servers} "
                    f"within {timeout:g} s\n{tails}"
                )
            time.sleep(0.25)

    def _log_tails(self) -> str:
        """Return the end of the broker's console output and log, for error messages."""
        return (
            f"--- {self._console_log} ---\n{tail(self._console_log)}\n"
            f"--- {self.log_file} ---\n{tail(self.log_file)}"
        )

    def _terminate(self, pid: int, timeout: float) -> None:
        """Send SIGTERM to the broker's process group, then SIGKILL if it outlives the timeout."""
        self._signal_group(pid, signal.SIGTERM)
        if not wait_gone(pid, timeout, self._alive):
            self._signal_group(pid, signal.SIGKILL)
            wait_gone(pid, 10.0, self._alive)

    @staticmethod
    def _signal_group(pid: int, sig: signal.Signals) -> None:
        """Signal the broker's process group (it leads its own session)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)

    def _alive(self, pid: int) -> bool:
        """Tell whether the broker process runs, reaping it if it is our child and has exited."""
        # Checked before reaping: a zombie counts as gone and must still be reaped.
        alive = pid_alive(pid)
        if self._process is not None and self._process.pid == pid:
            if self._process.poll() is not None:
                self._process = None
                return False
        else:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        return alive
