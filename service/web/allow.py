"""`Allow` on OPTIONS and 405 answers: every method of the route, HEAD wherever GET is."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


async def complete_allow_header(message: Message, scope: Scope) -> None:
    """`before_send` hook: Litestar (2.25) builds a path's OPTIONS handler when the path's first
    method is registered and never updates it, so `Allow` would miss the methods added after it."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    if "allow" not in headers:
        return
    methods = _route_methods(scope) if scope.get("method") == "OPTIONS" else None
    if not methods:
        methods = {method.strip().upper() for method in headers["allow"].split(",") if method.strip()}
    if "GET" in methods:
        # Every GET route answers HEAD too (service.web.semantics).
        methods.add("HEAD")
    headers["allow"] = ", ".join(sorted(methods))


def _route_methods(scope: Scope) -> set[str] | None:
    app: Any = scope.get("litestar_app")
    template = scope.get("path_template")
    if not isinstance(app, Litestar) or template is None:
        return None
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            return set(route.methods)
    return None
