"""Ops provisioning from the command line: organizations, API keys, users, worker tokens (JSON on stdout)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from service.auth import audit
from service.auth.api_keys import hash_api_key, new_api_key
from service.auth.passwords import Passwords
from service.auth.principal import Principal, Role
from service.auth.revocation import Revoked
from service.auth.revoke import horizon, revoke
from service.auth.tokens import TokenService
from service.db.sql import load_queries
from service.observability.logs import configure_logging
from service.settings import Settings, load_settings

_SQL = load_queries("service.auth", "queries.sql")
_encode = msgspec.json.Encoder().encode

MAX_ORGANIZATION_NAME = 255
MAX_USERNAME = 180
MIN_PASSWORD = 8
MAX_PASSWORD = 4096
ROLES = {"owner": Role.OWNER, "viewer": Role.VIEWER}


class ProvisioningError(Exception):
    """The request cannot be carried out; the message says why, without any secret in it."""


async def create_organization(connection: asyncpg.Connection, name: str) -> dict[str, str]:
    """A new organization and its first API key, which is shown here once and never again."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_ORGANIZATION_NAME:
        raise ProvisioningError(f"the organization name must be 1 to {MAX_ORGANIZATION_NAME} characters")
    async with connection.transaction():
        row = await connection.fetchrow(_SQL["insert_organization"], uuid.uuid4(), name)
        key = await create_api_key(connection, row["id"])
    return {"id": str(row["id"]), "apiKey": key["apiKey"]}


async def create_api_key(connection: asyncpg.Connection, organization_id: uuid.UUID) -> dict[str, str]:
    await _require_organization(connection, organization_id)
    key = new_api_key()
    row = await connection.fetchrow(_SQL["insert_api_key"], uuid.uuid4(), organization_id, hash_api_key(key))
    return {"id": str(row["id"]), "apiKey": key}


async def list_api_keys(connection: asyncpg.Connection, organization_id: uuid.UUID) -> list[dict[str, Any]]:
    await _require_organization(connection, organization_id)
    rows = await connection.fetch(_SQL["list_api_keys"], organization_id)
    return [
        {
            "id": str(row["id"]),
            "createdAt": row["created_at"].isoformat(timespec="seconds"),
            "revokedAt": row["revoked_at"].isoformat(timespec="seconds") if row["revoked_at"] else None,
        }
        for row in rows
    ]


async def revoke_api_key(connection: asyncpg.Connection, key_id: uuid.UUID, ttl: int) -> dict[str, str]:
    """Revoked keys stop working on the next request, and the customer tokens they minted with them;
    revoking twice keeps the first time."""
    async with connection.transaction():
        row = await connection.fetchrow(_SQL["revoke_api_key"], key_id)
        if row is None:
            raise ProvisioningError(f"there is no API key {key_id}")
        await revoke(connection, Revoked.API_KEY, str(key_id), ttl)
    audit.from_command_line("token.revoked", kind=Revoked.API_KEY.value, revoked=str(key_id))
    return {"id": str(row["id"]), "revokedAt": row["revoked_at"].isoformat(timespec="seconds")}


async def create_user(
    connection: asyncpg.Connection,
    passwords: Passwords,
    *,
    organization_id: uuid.UUID,
    username: str,
    role: Role,
    password: str,
) -> dict[str, str]:
    if not username.strip() or len(username) > MAX_USERNAME or username != username.strip():
        raise ProvisioningError(f"the username must be 1 to {MAX_USERNAME} characters, without outer spaces")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ProvisioningError(f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    await _require_organization(connection, organization_id)
    password_hash = await passwords.hash(password)
    user_id = await connection.fetchval(
        _SQL["insert_user"], uuid.uuid4(), organization_id, username, password_hash, role.value
    )
    if user_id is None:
        raise ProvisioningError(f"the username {username!r} is taken")
    return {"id": str(user_id)}


def worker_token(tokens: TokenService, *, ttl: int, subject: str, max_ttl: int) -> dict[str, str]:
    """A platform-wide ROLE_WORKER token for an inbox worker, never longer-lived than `max_ttl`."""
    if ttl < 1:
        raise ProvisioningError("--ttl must be at least 1 second")
    if ttl > max_ttl:
        raise ProvisioningError(
            f"--ttl {ttl} is longer than WORKER_TOKEN_MAX_TTL ({max_ttl} seconds); "
            "mint a shorter-lived token and mint the next one before it expires"
        )
    issued = tokens.issue(Principal(subject, frozenset({Role.WORKER}), None), ttl)
    audit.from_command_line(
        "token.minted",
        kind="worker",
        issued_jti=issued.jti,
        issued_principal=subject,
        issued_role=Role.WORKER.value,
        expires_at=issued.expires_at.isoformat(),
    )
    return {"token": issued.token, "expiresAt": issued.expires_at.isoformat()}


async def _require_organization(connection: asyncpg.Connection, organization_id: uuid.UUID) -> None:
    if not await connection.fetchval(_SQL["organization_exists"], organization_id):
        raise ProvisioningError(f"there is no organization {organization_id}")


# ---- command line -------------------------------------------------------------------------------


def _emit(document: Any) -> int:
    sys.stdout.buffer.write(_encode(document) + b"\n")
    sys.stdout.flush()
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


def _with_connection(
    action: Callable[[asyncpg.Connection, Settings], Awaitable[Any]],
) -> Callable[[argparse.Namespace], int]:
    """Run `action` with one database connection; print its result as JSON, or one error line."""

    def command(_: argparse.Namespace) -> int:
        settings = load_settings()
        # Audit lines go to standard error; standard output stays the JSON result.
        configure_logging(settings.log_level, settings.log_format)

        async def run() -> Any:
            connection = await asyncpg.connect(settings.database_url)
            try:
                return await action(connection, settings)
            finally:
                await connection.close()

        try:
            return _emit(asyncio.run(run()))
        except ProvisioningError as exc:
            return _fail(str(exc))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return _fail(f"the database cannot be used: {type(exc).__name__}: {exc}")

    return command


def _read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    text = sys.stdin.read()
    return text.removesuffix("\n").removesuffix("\r")


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {value!r}") from None


def _org_create(args: argparse.Namespace) -> int:
    return _with_connection(lambda connection, _: create_organization(connection, args.name))(args)


def _api_key_create(args: argparse.Namespace) -> int:
    return _with_connection(lambda connection, _: create_api_key(connection, args.org))(args)


def _api_key_list(args: argparse.Namespace) -> int:
    return _with_connection(lambda connection, _: list_api_keys(connection, args.org))(args)


def _api_key_revoke(args: argparse.Namespace) -> int:
    return _with_connection(
        lambda connection, settings: revoke_api_key(connection, args.id, horizon(settings))
    )(args)


def _user_create(args: argparse.Namespace) -> int:
    if (args.password is None) == (not args.password_stdin):
        return _fail("give the password with exactly one of --password-stdin or --password")
    password = _read_password(args)

    async def action(connection: asyncpg.Connection, settings: Settings) -> dict[str, str]:
        return await create_user(
            connection,
            Passwords.from_settings(settings),
            organization_id=args.org,
            username=args.username,
            role=ROLES[args.role],
            password=password,
        )

    return _with_connection(action)(args)


def _token_worker(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    ttl = settings.worker_token_ttl if args.ttl is None else args.ttl
    tokens = TokenService.from_settings(settings)
    try:
        return _emit(worker_token(tokens, ttl=ttl, subject=args.name, max_ttl=settings.worker_token_max_ttl))
    except ProvisioningError as exc:
        return _fail(str(exc))


def register(commands: Any) -> None:
    """Add `org`, `api-key`, `user` and `token` to the `accounts-service` command."""
    org = commands.add_parser("org", help="manage organizations").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = org.add_parser("create", help="create an organization; prints its id and its API key (once)")
    create.add_argument("--name", required=True)
    create.set_defaults(handler=_org_create)

    keys = commands.add_parser("api-key", help="manage an organization's API keys").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    key_create = keys.add_parser("create", help="add an API key; prints it once")
    key_create.add_argument("--org", required=True, type=_uuid, metavar="ORG_ID")
    key_create.set_defaults(handler=_api_key_create)
    key_list = keys.add_parser("list", help="list API keys (ids and dates, never the keys)")
    key_list.add_argument("--org", required=True, type=_uuid, metavar="ORG_ID")
    key_list.set_defaults(handler=_api_key_list)
    key_revoke = keys.add_parser("revoke", help="revoke an API key")
    key_revoke.add_argument("--id", required=True, type=_uuid, metavar="KEY_ID")
    key_revoke.set_defaults(handler=_api_key_revoke)

    users = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    user_create = users.add_parser("create", help="create a user in an organization; prints its id")
    user_create.add_argument("--org", required=True, type=_uuid, metavar="ORG_ID")
    user_create.add_argument("--username", required=True)
    user_create.add_argument("--role", required=True, choices=sorted(ROLES))
    user_create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user_create.add_argument("--password", help="the password (visible to other local users: scripts only)")
    user_create.set_defaults(handler=_user_create)

    tokens = commands.add_parser("token", help="mint tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    worker = tokens.add_parser("worker", help="mint a ROLE_WORKER token for an inbox worker")
    lifetime = "lifetime (default WORKER_TOKEN_TTL, at most WORKER_TOKEN_MAX_TTL)"
    worker.add_argument("--ttl", type=int, metavar="SECONDS", help=lifetime)
    worker.add_argument("--name", default="worker", help="the token's subject (default: worker)")
    worker.set_defaults(handler=_token_worker)

    from service.provisioning.revocation import register as register_revocation_commands

    register_revocation_commands(users=users, tokens=tokens)
