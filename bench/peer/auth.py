"""Bearer-token authentication as dependencies: the service's JWT claims and checks, with PyJWT."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bench.peer.config import Config, current_config

REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti", "roles"]
LEEWAY_SECONDS = 10
OWNER, VIEWER, CUSTOMER, WORKER = "ROLE_OWNER", "ROLE_VIEWER", "ROLE_CUSTOMER", "ROLE_WORKER"
ROLES = frozenset({OWNER, VIEWER, CUSTOMER, WORKER})

bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    roles: frozenset[str]
    organization_id: uuid.UUID | None
    client_id: uuid.UUID | None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _optional_uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a string")
    return uuid.UUID(value)


def _principal(claims: dict[str, Any]) -> Principal:
    """The caller the claims describe; an incoherent set of claims is an invalid token."""
    subject, roles, jti = claims["sub"], claims["roles"], claims["jti"]
    if not isinstance(subject, str) or not subject or not isinstance(jti, str) or not jti:
        raise _unauthorized("Invalid JWT Token")
    if not isinstance(roles, list) or not roles or not all(r in ROLES for r in roles) or "org" not in claims:
        raise _unauthorized("Invalid JWT Token")
    try:
        organization, client = _optional_uuid(claims["org"]), _optional_uuid(claims.get("client"))
    except ValueError:
        raise _unauthorized("Invalid JWT Token") from None
    granted = frozenset(roles)
    if WORKER in granted:
        coherent = granted == {WORKER} and organization is None and client is None
    elif CUSTOMER in granted:
        coherent = granted == {CUSTOMER} and organization is not None and client is not None
    else:
        coherent = organization is not None and client is None
    if not coherent:
        raise _unauthorized("Invalid JWT Token")
    return Principal(subject, granted, organization, client)


async def current_principal(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    config: Annotated[Config, Depends(current_config)],
) -> Principal:
    if credentials is None:
        raise _unauthorized("JWT Token not found")
    try:
        claims = jwt.decode(
            credentials.credentials,
            config.verifying_key,
            algorithms=[config.algorithm],
            audience=config.audience,
            issuer=config.issuer,
            options={
                "require": REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        raise _unauthorized("Invalid JWT Token") from None
    now = time.time()
    expires, issued = claims["exp"], claims["iat"]
    if not _is_time(expires) or not _is_time(issued) or issued > now + LEEWAY_SECONDS:
        raise _unauthorized("Invalid JWT Token")
    if "nbf" in claims and (not _is_time(claims["nbf"]) or claims["nbf"] > now + LEEWAY_SECONDS):
        raise _unauthorized("Invalid JWT Token")
    if expires <= now - LEEWAY_SECONDS:
        raise _unauthorized("Expired JWT Token")
    return _principal(claims)


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers holding any of `roles` (403 otherwise)."""
    wanted = frozenset(roles)

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.roles.isdisjoint(wanted):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Access Denied.")
        return principal

    return dependency
