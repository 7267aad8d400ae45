"""HTTP around every handler: HEAD as GET without a body, If-None-Match → 304, the Hydra doc Link."""

from __future__ import annotations

import re
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.web.contexts import DOCS_PATH

API_DOCUMENTATION = "http://www.w3.org/ns/hydra/core#apiDocumentation"
# A Host header that is a plain host name or address with an optional port; anything else is ignored.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
# What a 304 keeps of the 200 it replaces (RFC 9110, 15.4.5); the rest describes a body it has not.
_NOT_MODIFIED_KEEPS = frozenset(
    {"etag", "cache-control", "vary", "link", "content-location", "expires", "date"}
)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def base_url(scope: Scope) -> str:
    """`scheme://host[:port]` as the client addressed the service, for absolute IRIs."""
    host = _header(scope, b"host")
    if host is None or not _HOST.match(host):
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{scope.get('scheme', 'http')}://{host}"


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
        http = scope
        head = http["method"] == "HEAD"
        if head:
            # A copy: the server must still know it answers a HEAD (no body, Content-Length kept).
            http = {**http, "method": "GET"}
        scope = http
        api = is_api(scope["path"])
        validator = _header(scope, b"if-none-match") if http["method"] == "GET" else None
        if not (head or api or validator):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = {"empty": head}
        link = f'<{base_url(scope)}{DOCS_PATH}>; rel="{API_DOCUMENTATION}"' if api else None

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if link is not None:
                    existing = headers.get("link")
                    headers["link"] = f"{existing}, {link}" if existing else link
                etag = headers.get("etag")
                if validator and etag and message["status"] == 200 and etag_matches(validator, etag):
                    message["status"] = 304
                    for name in {key.lower() for key in headers.keys()} - _NOT_MODIFIED_KEEPS:  # noqa: SIM118
                        del headers[name]
                    state["empty"] = True
            elif message["type"] == "http.response.body" and state["empty"]:
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, answer)
