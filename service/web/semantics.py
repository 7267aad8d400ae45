"""HTTP around every handler: HEAD as GET without a body, If-None-Match → 304, the Hydra doc Link,
`nosniff` on every answer and a complete `Allow`."""

from __future__ import annotations

import re

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.web.allow import complete_allow
from service.web.contexts import DOCS_PATH
from service.web.headers import find, join, request_header, response_headers

API_DOCUMENTATION = "http://www.w3.org/ns/hydra/core#apiDocumentation"
# A Host header that is a plain host name or address with an optional port; anything else is ignored.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
# What a 304 keeps of the 200 it replaces (RFC 9110, 15.4.5); the rest describes a body it has not.
_NOT_MODIFIED_KEEPS = frozenset(
    {b"etag", b"cache-control", b"vary", b"link", b"content-location", b"expires", b"date"}
)
# Browsers must take every body as the type it is labelled with.
_NOSNIFF = (b"x-content-type-options", b"nosniff")


def base_url(scope: Scope) -> str:
    """`scheme://host[:port]` as the client addressed the service, for absolute IRIs."""
    host = request_header(scope, b"host")
    if host is None or not _HOST.match(host):
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{scope.get('scheme', 'http')}://{host}"


def _docs_link(scope: Scope) -> bytes:
    return f'<{base_url(scope)}{DOCS_PATH}>; rel="{API_DOCUMENTATION}"'.encode()


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110, 13.1.2): `W/` is ignored; `*` matches any current representation."""
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in wanted or etag.strip().removeprefix("W/") in wanted


class HttpSemantics:
    """Wraps the whole app, so that routing already sees HEAD as GET (Litestar routes by method)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        outer = scope
        head = scope["method"] == "HEAD"
        if head:
            # A copy: the server must still know it answers a HEAD (no body, Content-Length kept).
            scope = {**scope, "method": "GET"}
        link = _docs_link(scope) if is_api(scope["path"]) else None
        validator = request_header(scope, b"if-none-match") if scope["method"] == "GET" else None
        empty = head

        async def answer(message: Message) -> None:
            nonlocal empty
            if message["type"] == "http.response.start":
                headers = response_headers(message)
                headers.append(_NOSNIFF)
                if link is not None:
                    join(headers, b"link", link)
                if (allow := find(headers, b"allow")) >= 0:
                    complete_allow(headers, allow, scope)
                tag = find(headers, b"etag") if validator and message["status"] == 200 else -1
                if tag >= 0 and etag_matches(validator or "", headers[tag][1].decode("latin-1")):
                    message["status"] = 304
                    headers[:] = [pair for pair in headers if pair[0] in _NOT_MODIFIED_KEEPS]
                    empty = True
            elif message["type"] == "http.response.body" and empty:
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            if head:
                # The outer layers (metrics) read the route the router matched.
                outer["path_template"] = scope.get("path_template")
