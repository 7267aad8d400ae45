"""The OpenAPI document rebased on the `/api` server, for clients that resolve every path against the
first server and find a resource's collection at `/{name}` beside its item at `/{name}/{id}`
(api-doc-parser's OpenAPI mode, hence OpenApiAdmin).

The main document keeps absolute paths under the server `/`, as code generators that ignore path-level
servers need. This one says the same: paths under `/api` drop the prefix and its server is `/api`;
every other path (`/authentication/…`) keeps its path and the original servers as a path-level
`servers` override, which OpenAPI allows for exactly this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

API_PREFIX = "/api"
PATH = "/openapi.api.json"
_ROOT = [{"url": "/"}]


def rebased(document: Mapping[str, Any], prefix: str = API_PREFIX) -> dict[str, Any]:
    """A copy of `document` whose first server is each original server with `prefix` appended."""
    servers = list(document.get("servers") or _ROOT)
    paths: dict[str, Any] = {}
    for path, item in (document.get("paths") or {}).items():
        if path == prefix or path.startswith(f"{prefix}/"):
            paths[path.removeprefix(prefix) or "/"] = item
        else:
            paths[path] = {**item, "servers": item.get("servers") or servers}
    moved = [{**server, "url": str(server["url"]).rstrip("/") + prefix} for server in servers]
    pointer = "#/paths/" + prefix.replace("~", "~0").replace("/", "~1")
    found: dict[str, Any] = _relinked({**document, "servers": moved, "paths": paths}, pointer)
    return found


def _relinked(node: Any, pointer: str) -> Any:
    """Links' `operationRef`s point into `paths` by JSON pointer: they follow the moved paths."""
    if isinstance(node, dict):
        reference = node.get("operationRef")
        found = {key: _relinked(value, pointer) for key, value in node.items()}
        if isinstance(reference, str) and reference.startswith(f"{pointer}~1"):
            found["operationRef"] = "#/paths/" + reference.removeprefix(pointer)
        return found
    if isinstance(node, list):
        return [_relinked(item, pointer) for item in node]
    return node


class RebasedOpenAPIPlugin(JsonRenderPlugin):
    """Serves the rebased document as JSON beside the main one (`/api/docs/openapi.api.json`)."""

    def __init__(self) -> None:
        super().__init__(path=PATH)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self.render_json(request, rebased(openapi_schema))
