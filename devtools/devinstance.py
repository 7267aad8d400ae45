"""What `dev` does once its servers run: tell the other commands where they are, and the demo data."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from devtools.devstate import DevState, remove_state, write_state
from service.settings import Settings


def _key_path(value: str) -> str:
    """Only a path is written down: a key given as PEM text stays out of the state file."""
    return str(Path(value).resolve()) if value and "-----BEGIN" not in value and Path(value).is_file() else ""


def announce_dev_instance(
    settings: Settings, data_dir: Path, started: ExitStack, say: Callable[[str], None], *, demo: bool
) -> None:
    api_url = f"http://{settings.host}:{settings.port}"
    state = DevState(
        pid=os.getpid(),
        database_url=settings.database_url,
        api_url=api_url,
        jwt_private_key=_key_path(settings.jwt_private_key),
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
    )
    path = write_state(data_dir, state)
    started.callback(remove_state, data_dir)
    say(f"  other commands (org create, token worker, …) run from here find this instance in {path}")
    if demo:
        from devtools.demo import demo_lines, provision_demo

        for line in demo_lines(asyncio.run(provision_demo(settings, data_dir)), api_url):
            say(line)
    else:
        say("  `accounts-service dev --demo` also creates a demo organization, owner and client")
