"""A local single-node Apache Kafka broker (KRaft) run from jars fetched off Maven Central."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import pathlib
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator

from devtools.processes import pid_alive, wait_gone

# Newest on Maven Central; 4.1.2, 4.2.2, 4.3.1 and 4.4.0 all pass an aiokafka 0.14 round trip on Java 17.
KAFKA_VERSION = "4.4.0"
_LOG4J_VERSION = "2.25.3"
# kafka_2.13 pulls slf4j-api 1.7, which finds no 2.x provider and falls back to NOP logging.
_SLF4J_VERSION = "2.0.17"
_DEPENDENCY_PLUGIN_VERSION = "3.8.1"
_MIN_JAVA = 17
_HOST = "127.0.0.1"
# Maven colours a few lines even in batch mode.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.accounts-service</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>{slf4j}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
        <version>{plugin}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""

_LOG4J2_PROPERTIES = """status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _java() -> str | None:
    """Return the java executable: $JAVA_HOME's if set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = pathlib.Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


def java_available() -> bool:
    """Tell whether a Java runtime new enough for the Kafka broker is installed."""
    java = _java()
    if java is None:
        return False
    try:
        done = subprocess.run(  # noqa: S603  (fixed arguments)
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if done.returncode != 0 or match is None:
        return False
    major = int(match.group(1))
    # Java 8 and older report "1.<major>".
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major >= _MIN_JAVA


def _default_cache_dir() -> pathlib.Path:
    """Return $XDG_CACHE_HOME/accounts-service, or ~/.cache/accounts-service."""
    base = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(base) / "accounts-service"


def ensure_jars(
    cache_dir: pathlib.Path | None = None, progress: Callable[[str], None] = print
) -> pathlib.Path:
    """Return the directory of the broker's jars, fetching them with Maven on first use.

    The jars live in <cache_dir>/kafka-<KAFKA_VERSION>/libs; cache_dir defaults to
    $XDG_CACHE_HOME/accounts-service (or ~/.cache/accounts-service).
    """
    version_dir = (cache_dir or _default_cache_dir()).expanduser().resolve() / f"kafka-{KAFKA_VERSION}"
    libs = version_dir / "libs"
    if _libs_complete(libs):
        return libs
    version_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".kafka-{KAFKA_VERSION}-", dir=version_dir.parent))
    staging.chmod(0o755)
    try:
        progress(f"fetching Kafka {KAFKA_VERSION} jars with Maven (first use only)…")
        _fetch_with_maven(staging, progress)
        if not _libs_complete(staging / "libs"):
            raise RuntimeError(f"Maven finished but {staging / 'libs'} lacks the Kafka {KAFKA_VERSION} jar")
        count = len(list((staging / "libs").glob("*.jar")))
        _publish(staging, version_dir)
        progress(f"fetched Kafka {KAFKA_VERSION}: {count} jars in {libs}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs


def _libs_complete(libs: pathlib.Path) -> bool:
    """Tell whether libs holds a finished fetch of this Kafka version."""
    return (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file()


def _publish(staging: pathlib.Path, version_dir: pathlib.Path) -> None:
    """Move a finished fetch into place atomically, tolerating a concurrent fetch that won."""
    try:
        staging.rename(version_dir)
    except OSError:
        if not _libs_complete(version_dir / "libs"):
            shutil.rmtree(version_dir, ignore_errors=True)
            staging.rename(version_dir)


def _fetch_with_maven(workdir: pathlib.Path, progress: Callable[[str], None]) -> None:
    """Run Maven to copy the broker's runtime dependencies into workdir/libs."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is needed to fetch the Kafka jars but is not on PATH")
    pom = workdir / "pom.xml"
    pom.write_text(
        _POM.format(
            kafka=KAFKA_VERSION,
            log4j=_LOG4J_VERSION,
            slf4j=_SLF4J_VERSION,
            plugin=_DEPENDENCY_PLUGIN_VERSION,
        )
    )
    command = [
        mvn,
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={workdir / 'libs'}",
        "-DincludeScope=runtime",
    ]
    tail: deque[str] = deque(maxlen=40)
    with subprocess.Popen(  # noqa: S603  (arguments built here)
        command,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as maven:
        assert maven.stdout is not None
        _report_downloads(maven.stdout, tail, progress)
        returncode = maven.wait()
    if returncode != 0:
        output = "\n".join(tail)
        raise RuntimeError(f"Maven could not fetch Kafka {KAFKA_VERSION} (exit {returncode}):\n{output}")


def _report_downloads(lines: Iterator[str], tail: deque[str], progress: Callable[[str], None]) -> None:
    """Follow Maven's output, reporting every few downloaded artifacts."""
    downloaded = 0
    for line in lines:
        tail.append(_ANSI_ESCAPE.sub("", line).rstrip())
        if "Downloaded from" in line and ".jar" in line:
            downloaded += 1
            if downloaded % 10 == 0:
                progress(f"fetching Kafka jars: {downloaded} artifacts…")


def _cluster_id() -> str:
    """Return a fresh cluster id in Kafka's format (base64url UUID without padding)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Kafka refuses ids that start with "-": they look like command-line flags.
        if not text.startswith("-"):
            return text


def _metadata_brokers(port: int, timeout: float = 2.0) -> int:
    """Send a Kafka Metadata request and return how many brokers the answer lists."""
    # v4 is the oldest Metadata version Kafka 4.x accepts, and the simplest to encode.
    correlation_id = 1
    client_id = b"accounts-service-probe"
    # Header: api_key=3 (Metadata), api_version=4, correlation id, client id;
    # body: an empty topic list and allow_auto_topic_creation=false.
    body = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    with socket.create_connection((_HOST, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        answer = _recv_exact(sock, size)
    got_id, _throttle_ms, brokers = struct.unpack(">iii", answer[:12])
    if got_id != correlation_id:
        raise ConnectionError("unexpected correlation id in Kafka's answer")
    count: int = brokers
    return count


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    """Read exactly size bytes from the socket."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("Kafka closed the connection")
        chunks += chunk
    return bytes(chunks)


def _answers(port: int) -> bool:
    """Tell whether a broker on the port answers metadata requests and lists itself."""
    try:
        return _metadata_brokers(port) > 0
    except (OSError, struct.error):
        return False


def _port_in_use(port: int) -> bool:
    """Tell whether something accepts TCP connections on the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((_HOST, port)) == 0


def _tail(path: pathlib.Path, lines: int = 25) -> str:
    """Return the last lines of a text file, or a note when it cannot be read."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


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
        return f"{_HOST}:{self._port}"

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
        with self._locked():
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
        with self._locked():
            pid = self._running_pid()
            if pid is not None:
                self._terminate(pid, timeout)
            self._pid_file.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the home dir so concurrent start/stop calls serialise."""
        fd = os.open(self._home, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

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
        java = _java()
        if java is None or not java_available():
            raise RuntimeError(
                f"the Kafka broker needs Java {_MIN_JAVA}+ (set JAVA_HOME or put java on PATH)"
            )
        for port in (self._port, self._controller_port):
            if _port_in_use(port):
                raise RuntimeError(f"cannot start Kafka in {self._home}: port {port} is already in use")
        libs = ensure_jars(self._cache_dir, self._progress)
        self._write_config()
        self._format_storage(java, libs)
        return self._spawn(java, libs)

    def _write_config(self) -> None:
        """Write server.properties and the log4j2 config into the home dir."""
        (self._home / "logs").mkdir(exist_ok=True)
        (self._home / "log4j2.properties").write_text(_LOG4J2_PROPERTIES)
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{_HOST}:{self._controller_port}",
            "listeners": f"PLAINTEXT://{_HOST}:{self._port},CONTROLLER://{_HOST}:{self._controller_port}",
            "advertised.listeners": f"PLAINTEXT://{_HOST}:{self._port}",
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
        command += ["format", "-t", _cluster_id(), "-c", str(self._config), "--ignore-formatted"]
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
        command = [java, f"-Xmx{self._heap}", f"-Xms{_min_heap(self._heap)}", "-XX:+ExitOnOutOfMemoryError"]
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
        while not _answers(self._port):
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
            f"--- {self._console_log} ---\n{_tail(self._console_log)}\n"
            f"--- {self.log_file} ---\n{_tail(self.log_file)}"
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


def _min_heap(heap: str) -> str:
    """Return the initial heap size: 128m, or the maximum when that is smaller."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", heap)
    if match is None:
        return heap
    factor = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2).lower()]
    return "128m" if int(match.group(1)) * factor >= 128 << 20 else heap
