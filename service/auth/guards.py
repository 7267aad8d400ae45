"""Who may call an operation: a refusal is 403 (401 when nobody is authenticated).

Each handler declares its callers in its `opt` (`opt=requires(Role.OWNER, …)`, `opt=API_KEY_ONLY`) and
the authentication middleware enforces the declaration right after it has identified the caller.
Litestar's own guards would do the same, but Litestar copies the route handler for every guard call;
the middleware already holds both the caller and the handler, so it checks the roles for nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency

from service.auth.principal import Credential, Principal, Role
from service.auth.tokens import NOT_FOUND
from service.errors import Forbidden, Unauthenticated
from service.web.resource import not_found

ACCESS_DENIED = "Access Denied."
# Keys of a handler's `opt`.
ROLES = "roles"
CREDENTIAL = "credential"
# Only an organization's API key (its backend), not a user's token, may call the operation.
API_KEY_ONLY: dict[str, Any] = {CREDENTIAL: Credential.API_KEY}

Connection = ASGIConnection[Any, Any, Any, Any]


def requires(*roles: Role) -> dict[str, Any]:
    """A handler `opt` letting through callers holding any of `roles`."""
    return {ROLES: frozenset(roles)}


# An organization's own resources: its owners and viewers read them, its owners change them.
TENANT_READERS = requires(Role.OWNER, Role.VIEWER)
TENANT_WRITERS = requires(Role.OWNER)
# Their OpenAPI security: a user's bearer token or the organization's API key (which acts as its owner).
TENANT_SECURITY: list[dict[str, list[str]]] = [{"JWT": []}, {"ApiKey": []}]


class TenantController(Controller):
    """The base of the controllers of an organization's own resources."""

    security = TENANT_SECURITY


# The caller as a handler parameter.
Caller = NamedDependency[Principal]


def tenant_of(principal: Principal) -> uuid.UUID:
    """The caller's organization. Guards admit only organization members to tenant resources; a
    platform-wide caller must never reach their SQL (404)."""
    if principal.organization_id is None:
        raise not_found()
    return principal.organization_id


def authorize(principal: Principal, credential: Credential, opt: Mapping[str, Any]) -> None:
    """Refuse (403) a caller the handler's `opt` does not let through."""
    roles = opt.get(ROLES)
    if roles is not None and principal.roles.isdisjoint(roles):
        raise Forbidden(ACCESS_DENIED)
    required = opt.get(CREDENTIAL)
    if required is not None and credential is not required:
        raise Forbidden("This operation requires an X-API-KEY.")


def current_principal(connection: Connection) -> Principal:
    """The authenticated caller of this request."""
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthenticated(NOT_FOUND)
    return user


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """DI provider: handlers take `principal: NamedDependency[Principal]`."""
    return current_principal(request)
