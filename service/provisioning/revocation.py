"""`token revoke`, `user delete` and `user set-role`: the command-line side of token revocation."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.auth import audit
from service.auth.revocation import Revoked
from service.auth.revoke import delete_user, horizon, revoke, set_user_role
from service.provisioning import ROLES, ProvisioningError, _uuid, _with_connection, revoke_api_key
from service.settings import Settings

MAX_JTI = 255


def _jti(value: str) -> str:
    if not 1 <= len(value) <= MAX_JTI or not value.isprintable() or value != value.strip():
        raise argparse.ArgumentTypeError(f"not a token id: {value!r}")
    return value


async def revoke_tokens(connection: asyncpg.Connection, settings: Settings, args: argparse.Namespace) -> Any:
    """Revoke one token by its jti, every token of a user, or an API key with its customer tokens."""
    ttl = horizon(settings)
    if args.api_key is not None:
        return await revoke_api_key(connection, args.api_key, ttl)
    kind, value = (Revoked.JTI, args.jti) if args.jti is not None else (Revoked.USER, str(args.user))
    revocation = await revoke(connection, kind, value, ttl)
    audit.from_command_line("token.revoked", kind=kind.value, revoked=value)
    return {"kind": kind.value, "id": value, "expiresAt": _when(revocation.expires_at)}


async def remove_user(connection: asyncpg.Connection, settings: Settings, user_id: uuid.UUID) -> Any:
    row = await delete_user(connection, user_id, horizon(settings))
    if row is None:
        raise ProvisioningError(f"there is no user {user_id}")
    organization = str(row["organization_id"])
    audit.from_command_line(
        "user.deleted", user=str(user_id), user_organization=organization, user_role=row["role"]
    )
    return {"id": str(user_id), "deleted": True}


async def change_role(
    connection: asyncpg.Connection, settings: Settings, user_id: uuid.UUID, role: str
) -> Any:
    row = await set_user_role(connection, user_id, ROLES[role].value, horizon(settings))
    if row is None:
        raise ProvisioningError(f"there is no user {user_id}")
    audit.from_command_line(
        "user.role_changed",
        user=str(user_id),
        user_organization=str(row["organization_id"]),
        previous_role=row["previous_role"],
        user_role=row["role"],
    )
    return {"id": str(user_id), "role": role, "tokensRevoked": row["previous_role"] != row["role"]}


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def register(*, users: Any, tokens: Any) -> None:
    """Add `user delete`, `user set-role` and `token revoke` to the existing command groups."""
    delete = users.add_parser("delete", help="delete a user and revoke its tokens")
    delete.add_argument("--id", required=True, type=_uuid, metavar="USER_ID")
    delete.set_defaults(handler=lambda args: _with_connection(lambda c, s: remove_user(c, s, args.id))(args))
    set_role = users.add_parser("set-role", help="change a user's role; its tokens are revoked")
    set_role.add_argument("--id", required=True, type=_uuid, metavar="USER_ID")
    set_role.add_argument("--role", required=True, choices=sorted(ROLES))
    set_role.set_defaults(
        handler=lambda args: _with_connection(lambda c, s: change_role(c, s, args.id, args.role))(args)
    )
    revoke_parser = tokens.add_parser(
        "revoke", help="revoke access tokens: one by its jti, a user's, or an API key's (the key too)"
    )
    which = revoke_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--jti", type=_jti, help="the token's jti claim")
    which.add_argument("--user", type=_uuid, metavar="USER_ID", help="every token of the user so far")
    which.add_argument(
        "--api-key", type=_uuid, metavar="KEY_ID", help="revoke the key and the customer tokens it minted"
    )
    revoke_parser.set_defaults(
        handler=lambda args: _with_connection(lambda c, s: revoke_tokens(c, s, args))(args)
    )
