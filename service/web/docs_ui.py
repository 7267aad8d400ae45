"""Swagger UI served from the app itself: assets from the pinned `swagger-ui-py` wheel, no CDN.

The page loads only same-origin files, each with a Subresource Integrity hash, under a Content Security
Policy that allows nothing else; the initializer is a file too, so no inline script is needed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath

ASSETS = "/assets"
_INITIALIZER = b"""window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({url: root.dataset.spec, dom_id: "#swagger-ui", deepLinking: true});
});
"""
_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'"
)


def _static_dir() -> Path:
    # Found without importing the package, which would pull in its template and YAML dependencies.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: the API docs cannot be served")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@cache
def asset(name: str) -> tuple[bytes, str, str]:
    """(body, media type, SRI hash) of one served file; read and hashed once per process."""
    if name == "swagger-initializer.js":
        body, media_type = _INITIALIZER, "text/javascript; charset=utf-8"
    elif name in _FILES:
        body, media_type = (_static_dir() / name).read_bytes(), _FILES[name]
    else:
        raise NotFoundException()
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
    return body, media_type, integrity


class OfflineSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI at the docs root, its files under `/assets/` beside it."""

    def __init__(self, path: str = "/", **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        base = f"{request.app.openapi_config.path if request.app.openapi_config else ''}{ASSETS}"
        title = str(openapi_schema["info"]["title"]).replace("&", "&amp;").replace("<", "&lt;")

        def tag(name: str) -> str:
            integrity = asset(name)[2]
            if name.endswith(".css"):
                return f'<link rel="stylesheet" href="{base}/{name}" integrity="{integrity}">'
            return f'<script src="{base}/{name}" integrity="{integrity}"></script>'

        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png">
{tag("swagger-ui.css")}
{tag("swagger-ui-bundle.js")}
{tag("swagger-initializer.js")}
</head><body><div id="swagger-ui" data-spec="{self.get_openapi_json_route(request)}"></div></body></html>
""".encode()

    def receive_router(self, router: Router) -> None:
        router.register(serve_asset)


@get(f"{ASSETS}/{{name:str}}", sync_to_thread=False, include_in_schema=False)
def serve_asset(name: FromPath[str]) -> Response[bytes]:
    body, media_type, _ = asset(name)
    headers = {"Cache-Control": "public, max-age=86400", "Content-Security-Policy": CSP}
    return Response(body, media_type=media_type, headers=headers)
