"""A newcomer's first minutes: commands find a running `dev` by themselves, and `dev --demo` hands out
an organization, an owner, a client and a curl that works as pasted."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from devtools.demo import DEMO_FILE, demo_lines, provision_demo
from devtools.devinstance import announce_dev_instance
from devtools.devstate import STATE_FILE, DevState, write_state
from service.app import create_app
from service.auth.principal import Role
from service.auth.tokens import TokenService
from service.settings import Settings


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command with none of the service's variables set, as in a fresh terminal."""
    names = {field.upper() for field in Settings.__struct_fields__}
    env = {key: value for key, value in os.environ.items() if key not in names}
    env["DEV_DATA_DIR"] = str(data_dir)
    command = [sys.executable, "-m", "service", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_commands_find_the_running_dev_instance(
    tmp_path: Path, settings: Settings, jwt_private_key: str, db: asyncpg.Connection
) -> None:
    key = tmp_path / "jwt-private.pem"
    key.write_text(jwt_private_key)
    state = DevState(os.getpid(), settings.database_url, "http://127.0.0.1:8000", str(key))
    write_state(tmp_path, state)
    assert (tmp_path / STATE_FILE).stat().st_mode & 0o077 == 0

    created = _cli(tmp_path, "org", "create", "--name", "Found by itself")
    assert created.returncode == 0, created.stderr
    assert "using the dev instance at http://127.0.0.1:8000" in created.stderr
    organization_id = json.loads(created.stdout)["id"]
    assert await db.fetchval("SELECT name FROM organizations WHERE id = $1::uuid", organization_id) == (
        "Found by itself"
    )
    minted = _cli(tmp_path, "token", "worker", "--name", "poller")
    assert minted.returncode == 0, minted.stderr
    principal = TokenService.from_settings(settings).verify(json.loads(minted.stdout)["token"])
    assert principal.roles == frozenset({Role.WORKER}) and principal.subject == "poller"


def test_a_stopped_dev_instance_is_not_used(tmp_path: Path, settings: Settings) -> None:
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    write_state(tmp_path, DevState(dead_pid.pid, settings.database_url, "http://127.0.0.1:8000"))
    refused = _cli(tmp_path, "org", "create", "--name", "Nowhere")
    assert refused.returncode == 2
    assert "not running" in refused.stderr and "DATABASE_URL is required" in refused.stderr


async def test_dev_writes_its_state_and_removes_it_on_exit(tmp_path: Path, settings: Settings) -> None:
    said: list[str] = []
    with ExitStack() as started:
        announce_dev_instance(settings, tmp_path, started, said.append, demo=False)
        state = msgspec.json.decode((tmp_path / STATE_FILE).read_bytes(), type=DevState)
        assert state.pid == os.getpid() and state.database_url == settings.database_url
        # The suite's key is PEM text, not a file: it is never written down.
        assert state.jwt_private_key == "" and "BEGIN" not in (tmp_path / STATE_FILE).read_text()
    assert not (tmp_path / STATE_FILE).exists()
    assert any("--demo" in line for line in said)


async def test_demo_provisioning_and_its_curl(
    tmp_path: Path, settings: Settings, db: asyncpg.Connection
) -> None:
    demo = await provision_demo(settings, tmp_path)
    assert demo.password and demo.api_key and demo.api_key.startswith("ak_")
    owner = await db.fetchrow("SELECT username, role FROM users WHERE id = $1", demo.record.owner_id)
    assert owner["role"] == "ROLE_OWNER" and owner["username"] == demo.record.owner_username
    lines = demo_lines(demo, "http://127.0.0.1:8000")
    curl = shlex.split(next(line for line in lines if line.strip().startswith("curl")))
    url, header = curl[curl.index("-s") + 1], curl[curl.index("-H") + 1]
    assert url == "http://127.0.0.1:8000/api/clients" and header.startswith("Authorization: Bearer ")
    name, _, value = header.partition(": ")
    async with AsyncTestClient(app=create_app(settings)) as client:
        answer = await client.get(url.removeprefix("http://127.0.0.1:8000"), headers={name: value})
        assert answer.status_code == 200, answer.text
        assert [c["name"] for c in answer.json()["member"]] == ["Demo client"]
        login = await client.post(
            "/authentication/login_check",
            json={"username": demo.record.owner_username, "password": demo.password},
        )
        assert login.status_code == 200
    again = await provision_demo(settings, tmp_path)
    assert again.record == demo.record and again.password is None and again.api_key is None
    assert again.token != "" and (tmp_path / DEMO_FILE).exists()
    assert await db.fetchval("SELECT count(*) FROM organizations WHERE name = 'Demo organization'") == 1
