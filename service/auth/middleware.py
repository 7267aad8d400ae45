"""Turns `Authorization: Bearer <jwt>` or `X-API-KEY` into `request.user`, a Principal."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from service.auth.guards import authorize
from service.auth.principal import Credential, Principal
from service.auth.tokens import NOT_FOUND, TokenService
from service.errors import Unauthenticated
from service.web.headers import request_header

ApiKeyLookup = Callable[[str], Awaitable[Principal | None]]

# Everything else needs credentials; a handler can also opt out with `opt={"exclude_from_auth": True}`.
PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/api/docs", "^/authentication/"]
INVALID_API_KEY = "Invalid credentials."
_PUBLIC = re.compile("|".join(PUBLIC_PATHS))
_AUTHENTICATED = frozenset({ScopeType.HTTP, ScopeType.WEBSOCKET})


class AuthenticationMiddleware:
    """Raises Unauthenticated (LexikJWT's 401 bodies) when a protected path has no valid credential,
    and Forbidden when the caller is not one the handler lets through (service.auth.guards).

    A plain ASGI layer inside the app (so Litestar's error handling answers what it raises): it reads
    the two headers it needs from the scope rather than building a connection and a header mapping.
    Preflights (OPTIONS) pass, as with Litestar's authentication middleware.
    """

    def __init__(self, app: ASGIApp, tokens: TokenService, api_keys: ApiKeyLookup) -> None:
        self.app = app
        self._tokens = tokens
        self._api_keys = api_keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _AUTHENTICATED and not self._exempt(scope):
            scope["user"], scope["auth"] = await self._authenticate(scope)
        await self.app(scope, receive, send)

    @staticmethod
    def _exempt(scope: Scope) -> bool:
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get("exclude_from_auth"):
            return True
        return scope.get("method") == "OPTIONS" or _PUBLIC.match(scope["path"]) is not None

    async def _authenticate(self, scope: Scope) -> tuple[Principal, Credential]:
        api_key = request_header(scope, b"x-api-key")
        if api_key is not None:
            principal = await self._api_keys(api_key.strip())
            if principal is None:
                raise Unauthenticated(INVALID_API_KEY)
            credential = Credential.API_KEY
        else:
            authorization = request_header(scope, b"authorization") or ""
            scheme, _, token = authorization.strip().partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated(NOT_FOUND)
            principal, credential = self._tokens.verify(token), Credential.BEARER
        authorize(principal, credential, scope["route_handler"].opt)
        return principal, credential


def authentication_middleware(tokens: TokenService, api_keys: ApiKeyLookup) -> DefineMiddleware:
    return DefineMiddleware(AuthenticationMiddleware, tokens=tokens, api_keys=api_keys)
