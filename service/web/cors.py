"""CORS for the embedded inbox: each organization lists the browser origins allowed to call the API.

Litestar's CORSConfig takes one static list of origins for the whole app; here the list lives in the
database, per organization, and the answer depends on who calls. A preflight carries no credentials, so
it is answered for an origin that some organization allows; the actual response carries the CORS
headers only when the caller's own organization allows the origin (a token of organization A used from
organization B's page is then blocked by the browser). Responses without a caller (login, 401s) carry
them for any allowed origin: they hold no tenant's data. Not allowed: no CORS header at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.web.headers import join, request_header, response_headers

OriginLookup = Callable[[str], frozenset[uuid.UUID]]

ALLOWED_METHODS = "GET, HEAD, POST, PATCH, DELETE, OPTIONS"
# What the API reads from a browser; X-API-KEY is left out on purpose: keys belong in backends.
ALLOWED_HEADERS = "Authorization, Content-Type, Accept, Idempotency-Key, If-Match, If-None-Match"
EXPOSED_HEADERS = "ETag, Location, Link, Idempotent-Replayed, Retry-After"
_EXPOSED = EXPOSED_HEADERS.encode()
PREFLIGHT_MAX_AGE = "600"
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
# The caller the authentication middleware set is read by its `organization_id` (this layer knows no
# resource package); a request without one has no caller.
_NO_CALLER = object()


class CorsMiddleware:
    """Wraps the whole ASGI app, so unmatched paths and preflights of any route are covered too."""

    def __init__(self, app: ASGIApp, allowing: OriginLookup) -> None:
        self._app = app
        self._allowing = allowing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        origin = request_header(scope, b"origin")
        organizations = self._allowing(origin) if origin is not None else frozenset()
        if origin is not None and organizations and self._is_preflight(scope):
            await self._preflight(origin, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = response_headers(message)
                join(headers, b"vary", b"Origin")
                if origin is not None and organizations and self._caller_allowed(scope, organizations):
                    headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
                    headers.append((b"access-control-expose-headers", _EXPOSED))
            await send(message)

        await self._app(scope, receive, send_with_cors)

    @staticmethod
    def _is_preflight(scope: Scope) -> bool:
        if scope.get("method") != "OPTIONS":
            return False
        return any(name == b"access-control-request-method" for name, _ in scope["headers"])

    @staticmethod
    def _caller_allowed(scope: Scope, organizations: frozenset[uuid.UUID]) -> bool:
        organization_id = getattr(scope.get("user"), "organization_id", _NO_CALLER)
        if organization_id is _NO_CALLER:
            return True
        return organization_id is not None and organization_id in organizations

    @staticmethod
    async def _preflight(origin: str, send: Send) -> None:
        headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            (b"vary", _PREFLIGHT_VARY.encode()),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
