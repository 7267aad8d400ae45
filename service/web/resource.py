"""What every resource's routes share: the query string, LIKE patterns, dates, empty bodies, 404s."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from litestar import Request
from litestar.params import Body, FromPath

from service.errors import BadRequest, NotFound
from service.web.bodies import MERGE_PATCH, decode

T = TypeVar("T")
Q = TypeVar("Q", bound=Mapping[str, Sequence[str]])
Query = Mapping[str, Sequence[str]]
NOT_FOUND = "Not Found"
AnyRequest = Request[Any, Any, Any]
# A resource id in the path.
UuidPath = FromPath[uuid.UUID]
# A handler's hand-decoded body: JSON (or JSON-LD), or a JSON merge patch; None when it was empty.
JsonData = Annotated[T | None, Body()]
PatchData = Annotated[T | None, Body(media_type=MERGE_PATCH[0])]
_LIKE_ESCAPES = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def not_found() -> NotFound:
    """API Platform's 404 for a resource the caller cannot see (missing or another tenant's)."""
    return NotFound(NOT_FOUND)


def found(row: T | None) -> T:
    """What a lookup found, or the 404 of `not_found` when it found nothing."""
    if row is None:
        raise not_found()
    return row


def query_of(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    """Every query parameter with all its values, checked by `check_query`."""
    return check_query({key: request.query_params.getall(key) for key in request.query_params})


def check_query(query: Q) -> Q:
    """PostgreSQL text cannot hold NUL: refused here (400), it would fail the query as a 500."""
    if any("\x00" in value for values in query.values() for value in values):
        raise BadRequest("Query parameters must not contain NUL characters.")
    return query


def single(query: Query, name: str) -> str | None:
    """A parameter that takes one value: absent is None, repeated is a 400."""
    values = query.get(name) or []
    if len(values) > 1:
        raise BadRequest(f'Query parameter "{name}" must be given once.')
    return values[0] if values else None


def like_pattern(fragment: str | None) -> str | None:
    """An ILIKE pattern matching `fragment` anywhere, its wildcards escaped; empty or None is no filter."""
    return f"%{fragment.translate(_LIKE_ESCAPES)}%" if fragment else None


def timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a numeric offset and whole seconds, as API Platform writes dates."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def empty_body(request: Request[Any, Any, Any], kind: type[T], accepted: tuple[str, ...]) -> T:
    """An empty body never reaches the decoder; decoding it here gives the same 415 or 400."""
    return decode(b"", kind, request.headers.get("content-type"), accepted)


def body_of(request: Request[Any, Any, Any], data: T | None, kind: type[T], accepted: tuple[str, ...]) -> T:
    """The decoded body, or what an empty one answers (see `empty_body`)."""
    return data if data is not None else empty_body(request, kind, accepted)
