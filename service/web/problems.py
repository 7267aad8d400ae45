"""The one place where errors become HTTP responses (RFC 7807 problems, API Platform and LexikJWT shapes)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from service import errors
from service.web.formats import negotiate

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

PROBLEM_JSON = "application/problem+json"

_STATUS: dict[type[errors.ServiceError], int] = {
    errors.BadRequest: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.NotAcceptable: 406,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.UnsupportedMediaType: 415,
    errors.TooManyRequests: 429,
}

# Failures of the database connection, not of the request: the client may retry.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    # Class 57: statement timeout (e.g. waiting on a row a stalled transaction holds), server shutdown
    # or restart, connections refused while it starts.
    asyncpg.OperatorInterventionError,
    # The server ended this session for idling in its transaction: nothing of it was committed.
    asyncpg.IdleInTransactionSessionTimeoutError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    # asyncpg's protocol state when the server drops the connection in the middle of a commit.
    asyncpg.InternalClientError,
    ConnectionError,
    asyncio.TimeoutError,
    OSError,
)


def _wants_linked_data(request: Request[Any, Any, Any]) -> bool:
    try:
        return negotiate(request.headers.get("accept")).linked
    except errors.NotAcceptable:
        return True


def problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """A problem document; JSON-LD keys are added when the client reads JSON-LD."""
    linked = _wants_linked_data(request)
    body: dict[str, Any] = {}
    if linked:
        body |= {"@context": "/api/contexts/Error", "@id": f"/api/errors/{status}", "@type": "Error"}
    body |= {"type": f"/errors/{status}", "title": "An error occurred", "status": status, "detail": detail}
    if linked:
        # API Platform 4 adds Hydra's description (the detail again) to JSON-LD errors only.
        body["description"] = detail
    return Response(_encode(body), status_code=status, media_type=PROBLEM_JSON, headers=_vary(headers))


def _vary(headers: dict[str, str] | None) -> dict[str, str]:
    """Problems add JSON-LD keys when JSON-LD is asked for: their body depends on Accept."""
    return {"Vary": "Accept", **(headers or {})}


def unauthenticated(message: str) -> Response[bytes]:
    """LexikJWT's 401 body, which existing clients parse."""
    return Response(
        _encode({"code": 401, "message": message}),
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="accounts"'},
    )


def _service_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, errors.ServiceError)
    if isinstance(exc, errors.Unauthenticated):
        return unauthenticated(exc.detail)
    headers = None
    if isinstance(exc, errors.TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    status = next(code for kind, code in _STATUS.items() if isinstance(exc, kind))
    return problem(request, status, exc.detail, headers)


def _violations(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, errors.ConstraintViolations)
    items = [
        {"propertyPath": v.property_path, "message": v.message, "code": v.code} for v in exc.violations
    ]
    linked = _wants_linked_data(request)
    first_code = exc.violations[0].code if exc.violations else "unknown"
    body: dict[str, Any] = {}
    if linked:
        body |= {
            "@context": "/api/contexts/ConstraintViolation",
            "@id": f"/api/validation_errors/{first_code}",
            "@type": "ConstraintViolation",
        }
    body |= {
        "type": f"/validation_errors/{first_code}",
        "status": 422,
        "title": "An error occurred",
        "detail": str(exc),
        "violations": items,
    }
    if linked:
        body["description"] = str(exc)
    return Response(_encode(body), status_code=422, media_type=PROBLEM_JSON, headers=_vary(None))


def _http_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    if exc.status_code >= 500:
        log.error("request failed", extra={"detail": exc.detail, "status": exc.status_code})
    headers = dict(exc.headers or {})
    return problem(request, exc.status_code, str(exc.detail), headers or None)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, _UNAVAILABLE):
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return problem(request, 503, "The service is temporarily unavailable.", {"Retry-After": "1"})
    log.exception("unhandled error", extra={"method": request.method, "path": request.url.path})
    return problem(request, 500, "Internal Server Error")


exception_handlers: ExceptionHandlersMap = {
    errors.ServiceError: _service_error,
    errors.ConstraintViolations: _violations,
    HTTPException: _http_exception,
    Exception: _unexpected,
}
