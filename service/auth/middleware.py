"""Turns `Authorization: Bearer <jwt>` or `X-API-KEY` into `request.user`, a Principal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.middleware import DefineMiddleware
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from service.auth.guards import authorize
from service.auth.principal import Credential, Principal
from service.auth.tokens import NOT_FOUND, TokenService
from service.errors import Unauthenticated

ApiKeyLookup = Callable[[str], Awaitable[Principal | None]]

# Everything else needs credentials; a handler can also opt out with `opt={"exclude_from_auth": True}`.
PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/api/docs", "^/authentication/"]
INVALID_API_KEY = "Invalid credentials."


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Raises Unauthenticated (LexikJWT's 401 bodies) when a protected path has no valid credential,
    and Forbidden when the caller is not one the handler lets through (service.auth.guards)."""

    def __init__(self, app: ASGIApp, tokens: TokenService, api_keys: ApiKeyLookup) -> None:
        super().__init__(app, exclude=PUBLIC_PATHS)
        self._tokens = tokens
        self._api_keys = api_keys

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        api_key = connection.headers.get("x-api-key")
        if api_key is not None:
            principal = await self._api_keys(api_key.strip())
            if principal is None:
                raise Unauthenticated(INVALID_API_KEY)
            credential = Credential.API_KEY
        else:
            scheme, _, token = connection.headers.get("authorization", "").strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated(NOT_FOUND)
            principal, credential = self._tokens.verify(token), Credential.BEARER
        authorize(principal, credential, connection.route_handler.opt)
        return AuthenticationResult(user=principal, auth=credential)


def authentication_middleware(tokens: TokenService, api_keys: ApiKeyLookup) -> DefineMiddleware:
    return DefineMiddleware(AuthenticationMiddleware, tokens=tokens, api_keys=api_keys)
