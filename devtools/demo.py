"""`accounts-service dev --demo`: an organization, an owner and a client to try the API with at once.

Made with the same provisioning code as `org create` / `user create` and the clients use case; what was
made is remembered in the dev data dir, so a second `--demo` reuses it and only mints a new token.
"""

from __future__ import annotations

import os
import secrets
import shlex
import uuid
from dataclasses import dataclass
from pathlib import Path

import msgspec

from service.auth.passwords import Passwords
from service.auth.principal import Principal, Role
from service.auth.tokens import TokenService
from service.clients.schema import ClientCreate
from service.clients.store import Clients
from service.db.pool import Database, create_pool
from service.errors import NotFound
from service.provisioning import create_organization, create_user
from service.settings import Settings

DEMO_FILE = "demo.json"


class DemoRecord(msgspec.Struct, rename="camel"):
    organization_id: uuid.UUID
    owner_id: uuid.UUID
    owner_username: str
    client_id: uuid.UUID


@dataclass(frozen=True)
class Demo:
    record: DemoRecord
    token: str
    # Shown only when just created: neither is kept anywhere in clear.
    password: str | None = None
    api_key: str | None = None


def _owner(record: DemoRecord) -> Principal:
    return Principal(str(record.owner_id), frozenset({Role.OWNER}), record.organization_id)


def _read(path: Path) -> DemoRecord | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=DemoRecord)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def _write(path: Path, record: DemoRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(msgspec.json.encode(record) + b"\n")


async def _still_there(db: Database, record: DemoRecord) -> bool:
    try:
        await Clients(db).get(_owner(record), record.client_id)
    except NotFound:
        return False
    async with db.connection() as connection:
        return bool(await connection.fetchval("SELECT 1 FROM users WHERE id = $1", record.owner_id))


async def provision_demo(settings: Settings, data_dir: Path) -> Demo:
    """Create (or find again) the demo organization, owner and client; mint an owner token."""
    tokens = TokenService.from_settings(settings)
    path = data_dir / DEMO_FILE
    db = Database(await create_pool(settings, min_size=1, max_size=2), settings.db_acquire_timeout)
    try:
        record = _read(path)
        if record is not None and await _still_there(db, record):
            return Demo(record, tokens.issue(_owner(record)).token)
        password = secrets.token_urlsafe(12)
        async with db.connection() as connection:
            organization = await create_organization(connection, "Demo organization")
            username = f"demo-{secrets.token_hex(3)}"
            user = await create_user(
                connection,
                Passwords.from_settings(settings),
                organization_id=uuid.UUID(organization["id"]),
                username=username,
                role=Role.OWNER,
                password=password,
            )
        owner = Principal(user["id"], frozenset({Role.OWNER}), uuid.UUID(organization["id"]))
        client = await Clients(db).create(owner, ClientCreate("Demo client", "https://example.com"))
        record = DemoRecord(uuid.UUID(organization["id"]), uuid.UUID(user["id"]), username, client["id"])
        _write(path, record)
        return Demo(record, tokens.issue(owner).token, password, organization["apiKey"])
    finally:
        await db.pool.close()


def demo_lines(demo: Demo, api_url: str) -> list[str]:
    """What `dev --demo` prints: who was made, and a curl that works as pasted."""
    record = demo.record
    curl = shlex.join(["curl", "-s", f"{api_url}/api/clients", "-H", f"Authorization: Bearer {demo.token}"])
    lines = [
        "",
        f"  demo organization  {record.organization_id}",
        f"  demo client        /api/clients/{record.client_id}",
        f"  demo owner         {record.owner_username}"
        + (f" / password {demo.password}" if demo.password else " (password shown when it was made)"),
    ]
    if demo.api_key:
        lines.append(f"  demo API key       {demo.api_key}  (shown only this once)")
    return [*lines, "", "  try it (the token is valid for JWT_TTL seconds):", f"  {curl}", ""]
