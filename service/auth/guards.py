"""Route guards: who may call an operation; a refusal is 403 (401 when nobody is authenticated)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from service.auth.middleware import Credential
from service.auth.principal import Principal, Role
from service.auth.tokens import NOT_FOUND
from service.errors import Forbidden, Unauthenticated

ACCESS_DENIED = "Access Denied."

Connection = ASGIConnection[Any, Any, Any, Any]


def current_principal(connection: Connection) -> Principal:
    """The authenticated caller of this request."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthenticated(NOT_FOUND)
    return user


def requires(*roles: Role) -> Guard:
    """A guard letting through callers holding any of `roles`."""
    allowed = frozenset(roles)

    # Async on purpose: Litestar runs a sync guard in a worker thread, a thread hop on every request.
    async def guard(connection: Connection, _: BaseRouteHandler) -> None:
        if not current_principal(connection).has_any(*allowed):
            raise Forbidden(ACCESS_DENIED)

    return guard


async def requires_api_key(connection: Connection, _: BaseRouteHandler) -> None:
    """Only an organization's API key (its backend), not a user's token, may call the operation."""
    current_principal(connection)
    if connection.scope.get("auth") is not Credential.API_KEY:
        raise Forbidden("This operation requires an X-API-KEY.")


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """DI provider: handlers take `principal: NamedDependency[Principal]`."""
    return current_principal(request)
