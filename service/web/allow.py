"""`Allow` on OPTIONS answers: every method of the route, not only those registered before the first."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


async def complete_allow_header(message: Message, scope: Scope) -> None:
    """`before_send` hook: Litestar (2.25) builds a path's OPTIONS handler when the path's first
    method is registered and never updates it, so `Allow` would miss the methods added after it."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    headers = MutableScopeHeaders.from_message(message)
    methods = _route_methods(scope) if "allow" in headers else None
    if methods:
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
