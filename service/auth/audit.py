"""The audit trail: one logger, one JSON line per sensitive action, with who did it and from where.

Fields travel as logging `extra`, so they come out as JSON keys. Never a secret: no token, password,
key or credential value, only ids (a token by its `jti`). Field names avoid the words the log
redaction masks ("token", "key", "credential"…), or the ids would be masked too.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from litestar.connection import ASGIConnection

from service.auth.api_keys import api_key_id
from service.auth.principal import Principal

AUDIT = logging.getLogger("accounts.audit")
# The command line acts with the database's credentials, not a token: this is its principal.
COMMAND_LINE = "command-line"


def identity(principal: Principal | None, address: str | None) -> dict[str, Any]:
    """The caller as the audit trail names it."""
    if principal is None:
        return {"principal": None, "role": None, "organization": None, "client": None, "jti": None,
                "address": address}  # fmt: skip
    key = api_key_id(principal)
    caller = {
        # "api-key:<id>" would read as a secret `key: value` pair to the redaction, and be masked.
        "principal": principal.subject if key is None else f"api-key/{key}",
        "role": ",".join(sorted(principal.roles)),
        "organization": None if principal.organization_id is None else str(principal.organization_id),
        "client": None if principal.client_id is None else str(principal.client_id),
        "jti": principal.jti,
        "address": address,
    }
    if key is not None:
        caller["key_id"] = str(key)
    return caller


def address_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return connection.client.host if connection.client else None


def record(event: str, caller: dict[str, Any], **fields: Any) -> None:
    """One audit line: `event` is also the message, `caller` comes from `identity`."""
    AUDIT.info(event, extra={"event": event, **caller, **fields})


def of_request(connection: ASGIConnection[Any, Any, Any, Any], event: str, **fields: Any) -> None:
    """An audit line for the authenticated caller of this request."""
    user = connection.scope.get("user")
    principal = user if isinstance(user, Principal) else None
    record(event, identity(principal, address_of(connection)), **fields)


def from_command_line(event: str, **fields: Any) -> None:
    record(event, {**identity(None, None), "principal": COMMAND_LINE}, **fields)


def username_digest(username: str) -> str:
    """Failed logins name the username by a digest: people type passwords into that field."""
    return hashlib.sha256(username.lower().encode()).hexdigest()[:16]
