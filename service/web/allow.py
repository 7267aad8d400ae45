"""`Allow` on OPTIONS and 405 answers: every method of the route, HEAD wherever GET is."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.types import Scope

from service.web.headers import RawHeaders


def complete_allow(headers: RawHeaders, index: int, scope: Scope) -> None:
    """Rewrite the `Allow` header at `index`: Litestar (2.25) builds a path's OPTIONS handler when the
    path's first method is registered and never updates it, so it would miss the methods added after."""
    methods = _route_methods(scope) if scope.get("method") == "OPTIONS" else None
    if not methods:
        listed = headers[index][1].decode("latin-1")
        methods = {method.strip().upper() for method in listed.split(",") if method.strip()}
    if "GET" in methods:
        # Every GET route answers HEAD too (service.web.semantics).
        methods.add("HEAD")
    headers[index] = (b"allow", ", ".join(sorted(methods)).encode("latin-1"))


def _route_methods(scope: Scope) -> set[str] | None:
    app: Any = scope.get("litestar_app")
    template = scope.get("path_template")
    if not isinstance(app, Litestar) or template is None:
        return None
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            return set(route.methods)
    return None
