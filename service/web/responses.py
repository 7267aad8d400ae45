"""The documented error bodies, in the shapes `service.web.problems` produces, and success responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from msgspec import UNSET, UnsetType

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


class _Problem(msgspec.Struct, kw_only=True):
    context: str | UnsetType = msgspec.field(default=UNSET, name="@context")
    id: str | UnsetType = msgspec.field(default=UNSET, name="@id")
    type: str
    title: str
    status: int
    detail: str


_JSON_LD_DETAIL = Annotated[str, msgspec.Meta(description="JSON-LD only: the detail")] | UnsetType


class Problem(_Problem, kw_only=True):
    """An RFC 7807 problem; `@context`, `@id` and `@type` ("Error") are added when JSON-LD was asked
    for. `@type` is left out of the schema: generators name it like `type`, which it would hide."""

    description: _JSON_LD_DETAIL = UNSET


class ViolationItem(msgspec.Struct, rename="camel"):
    property_path: str
    message: str
    code: Annotated[str, msgspec.Meta(description="Symfony constraint code")]


class ValidationProblem(_Problem, kw_only=True):
    """API Platform's 422 ConstraintViolation document (with `@type` "ConstraintViolation" in JSON-LD)."""

    violations: list[ViolationItem]
    description: _JSON_LD_DETAIL = UNSET


class AuthenticationError(msgspec.Struct):
    """LexikJWT's 401 body."""

    code: int
    message: Annotated[str, msgspec.Meta(examples=["JWT Token not found", "Expired JWT Token"])]


_DESCRIPTIONS = {
    400: "Bad request: malformed JSON, wrong types, unknown or read-only fields, bad query parameters",
    401: "No valid JWT (LexikJWT's body)",
    403: "The caller's role may not do this",
    404: "Not found (or not visible to the caller)",
    406: "The Accept header asks for a format the service does not produce",
    409: "A request with the same Idempotency-Key is still running",
    412: "If-Match does not match the current ETag",
    415: "Unsupported Content-Type",
    422: "Constraint violations",
}


def success(container: Any, description: str) -> ResponseSpec:
    """A success body documented by its plain-JSON type (the operation class adds the JSON-LD twin)."""
    return ResponseSpec(container, description=description, media_type=JSON, generate_examples=False)


def error_responses(*codes: int, notes: Mapping[int, str] | None = None) -> dict[int, ResponseSpec]:
    """Documented error responses, in the shapes `service.web.problems` produces; `notes` replaces the
    generic description of a status where the operation gives it a meaning of its own."""
    specs: dict[int, ResponseSpec] = {}
    for code in codes:
        description = (notes or {}).get(code, _DESCRIPTIONS[code])
        if code == 401:
            specs[code] = ResponseSpec(AuthenticationError, description=description, generate_examples=False)
        else:
            specs[code] = ResponseSpec(
                ValidationProblem if code == 422 else Problem,
                description=description,
                media_type=PROBLEM_JSON,
                generate_examples=False,
            )
    return specs
