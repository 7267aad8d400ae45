"""What `accounts-service dev` started, written into its data dir so the other commands find it.

`dev` writes `dev-state.json` (no secrets: the database URL of its local server and the paths of the
keys it generated) and removes it on exit; a command run while DATABASE_URL is unset reads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from pathlib import Path

import msgspec

from devtools.processes import pid_alive

STATE_FILE = "dev-state.json"
DEFAULT_DATA_DIR = ".dev"


class DevState(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    pid: int
    database_url: str
    api_url: str
    jwt_private_key: str = ""
    kafka_bootstrap_servers: str = ""


def data_dir(environ: MutableMapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("DEV_DATA_DIR") or DEFAULT_DATA_DIR).resolve()


def write_state(directory: Path, state: DevState) -> Path:
    """Readable by this user only: the URL reaches a database without a password."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    staging = path.with_suffix(".tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(msgspec.json.format(msgspec.json.encode(state)) + b"\n")
    staging.replace(path)
    return path


def remove_state(directory: Path) -> None:
    (directory / STATE_FILE).unlink(missing_ok=True)


def read_state(directory: Path) -> DevState | None:
    try:
        return msgspec.json.decode((directory / STATE_FILE).read_bytes(), type=DevState)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def apply_dev_state(environ: MutableMapping[str, str], say: Callable[[str], None]) -> bool:
    """Fill in what a running dev instance provides and the environment leaves unset; True if used."""
    if environ.get("DATABASE_URL"):
        return False
    directory = data_dir(environ)
    state = read_state(directory)
    if state is None:
        return False
    if not pid_alive(state.pid):
        say(f"{directory / STATE_FILE} names a dev instance (pid {state.pid}) that is not running")
        return False
    environ["DATABASE_URL"] = state.database_url
    if state.jwt_private_key and not environ.get("JWT_PRIVATE_KEY") and not environ.get("JWT_SECRET"):
        environ["JWT_PRIVATE_KEY"] = state.jwt_private_key
    if state.kafka_bootstrap_servers and not environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        environ["KAFKA_BOOTSTRAP_SERVERS"] = state.kafka_bootstrap_servers
    say(f"using the dev instance at {state.api_url} (found in {directory / STATE_FILE})")
    return True
