"""`/api` (Entrypoint), `/api/contexts/{shortName}` and `/api/docs.jsonld`: public, cacheable, derived
from the registered resources."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from service.errors import NotFound
from service.web.apidoc import documentation
from service.web.contexts import CONTEXTS_PATH, DOCS_PATH, ENTRYPOINT, context_document, entry_key
from service.web.formats import negotiate
from service.web.linked_data import LinkedResource
from service.web.responses import Problem, ValidationProblem
from service.web.semantics import base_url

JSONLD = "application/ld+json"
# The service's own documents: the error shapes every resource can answer with.
ERRORS = (
    LinkedResource("Error", read=Problem, description="A runtime error (RFC 7807 problem)."),
    LinkedResource(
        "ConstraintViolation",
        read=ValidationProblem,
        description="Unprocessable entity: the constraint violations of the request.",
    ),
)
_PUBLIC: dict[str, Any] = {"exclude_from_auth": True}
_CACHE = "public, max-age=3600"
_encode = msgspec.json.Encoder().encode


def _document(request: Request[Any, Any, Any], document: dict[str, Any]) -> Response[bytes]:
    """JSON-LD with a content ETag, so that caches and clients revalidate with If-None-Match."""
    negotiate(request.headers.get("accept"))
    body = _encode(document)
    tag = f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    return Response(
        body, media_type=f"{JSONLD}; charset=utf-8", headers={"ETag": tag, "Cache-Control": _CACHE}
    )


def discovery_handlers(
    resources: Sequence[LinkedResource], title: str, description: str
) -> list[HTTPRouteHandler]:
    """The handlers describing `resources` (in entrypoint order) and the error shapes."""
    described = [*resources, *ERRORS]

    @get("/api", opt=_PUBLIC, include_in_schema=False, sync_to_thread=False)
    def entrypoint(request: Request[Any, Any, Any]) -> Response[bytes]:
        keys = {entry_key(r): r.collection for r in resources if r.collection is not None}
        head = {"@context": f"{CONTEXTS_PATH}{ENTRYPOINT}", "@id": "/api", "@type": ENTRYPOINT}
        return _document(request, head | dict(sorted(keys.items())))

    @get(f"{CONTEXTS_PATH}{{short_name:str}}", opt=_PUBLIC, include_in_schema=False, sync_to_thread=False)
    def context(request: Request[Any, Any, Any], short_name: FromPath[str]) -> Response[bytes]:
        document = context_document(base_url(request.scope), short_name, described)
        if document is None:
            raise NotFound("Not Found")
        return _document(request, document)

    @get(DOCS_PATH, opt=_PUBLIC, include_in_schema=False, sync_to_thread=False)
    def api_documentation(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _document(request, documentation(base_url(request.scope), described, title, description))

    return [entrypoint, context, api_documentation]
