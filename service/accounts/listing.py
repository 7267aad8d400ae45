"""The collection's query string: filters, one ordering, and page-number or cursor (keyset) pagination."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args
from uuid import UUID

import msgspec

from service.accounts.schema import IntegrationReference, Status
from service.errors import BadRequest
from service.integrations.catalog import slug_of
from service.web.iri import client_id_of
from service.web.pagination import DEFAULT_MAX_OFFSET, PageRequest, parse_page
from service.web.resource import check_query, like_pattern, single

Query = Mapping[str, Sequence[str]]
OrderField = Literal["createdAt", "name"]

# The filters of API Platform's `search` template: (query variable, property).
SEARCH_VARIABLES: tuple[tuple[str, str], ...] = (
    ("integration", "integration"),
    ("integration[]", "integration"),
    ("provider", "provider"),
    ("provider[]", "provider"),
    ("status", "status"),
    ("status[]", "status"),
    ("client", "client"),
    ("client[]", "client"),
    ("name", "name"),
    ("order[createdAt]", "createdAt"),
    ("order[name]", "name"),
)
# The values the document lists for the filters with a closed set of them; anything else is a 400
# that names them, rather than an empty page for a misspelt status.
FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "integration": tuple(get_args(IntegrationReference)),
    "status": tuple(get_args(Status)),
}
_ORDER_KEYS: dict[str, OrderField] = {"order[createdAt]": "createdAt", "order[name]": "name"}
_CURSOR_VERSION = 1
# Account names are at most 255 characters (AccountWrite); a cursor can only point after one of them.
MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class Ordering:
    field: OrderField = "createdAt"
    descending: bool = False

    @property
    def query_name(self) -> str:
        """The named SQL query walking this ordering's index."""
        column = "created" if self.field == "createdAt" else "name"
        return f"list_{column}_{'desc' if self.descending else 'asc'}"


class Cursor(msgspec.Struct, array_like=True, frozen=True):
    """Where a cursor page starts: after the row with this keyset, in this ordering."""

    version: int
    field: OrderField
    descending: bool
    created_at: datetime | None
    name: str | None
    id: UUID

    def keyset(self) -> tuple[datetime | str | None, UUID]:
        return (self.created_at if self.field == "createdAt" else self.name), self.id


_encode_cursor = msgspec.msgpack.Encoder().encode
_decode_cursor = msgspec.msgpack.Decoder(Cursor).decode


def encode_cursor(ordering: Ordering, row: Mapping[str, Any]) -> str:
    """An opaque token for "the page after `row`"; it carries the ordering it belongs to."""
    by_name = ordering.field == "name"
    cursor = Cursor(
        _CURSOR_VERSION,
        ordering.field,
        ordering.descending,
        None if by_name else row["created_at"],
        row["name"] if by_name else None,
        row["id"],
    )
    return base64.urlsafe_b64encode(_encode_cursor(cursor)).rstrip(b"=").decode()


def decode_cursor(token: str, ordering: Ordering) -> Cursor | None:
    """None for the empty cursor (the first page); 400 for anything not made by `encode_cursor`."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = _decode_cursor(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BadRequest("The cursor is invalid.") from None
    if not _well_formed(cursor):
        raise BadRequest("The cursor is invalid.")
    if (cursor.field, cursor.descending) != (ordering.field, ordering.descending):
        raise BadRequest("The cursor belongs to another order; start again with an empty cursor.")
    return cursor


def _well_formed(cursor: Cursor) -> bool:
    """Every part as `encode_cursor` writes it: the key of its ordering only, a name PostgreSQL can
    hold and an account can have, an instant with its offset."""
    if cursor.version != _CURSOR_VERSION:
        return False
    if cursor.field == "name":
        name = cursor.name
        return name is not None and cursor.created_at is None and _valid_name(name)
    created = cursor.created_at
    return created is not None and cursor.name is None and created.utcoffset() is not None


def _valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME and "\x00" not in name


@dataclass(frozen=True, slots=True)
class Listing:
    """A parsed collection request; None filters do not filter."""

    clients: list[UUID] | None
    integrations: list[str] | None
    providers: list[str] | None
    statuses: list[str] | None
    name_pattern: str | None
    ordering: Ordering
    page: PageRequest
    cursor_mode: bool
    after: Cursor | None


def parse_listing(query: Query, max_offset: int = DEFAULT_MAX_OFFSET) -> Listing:
    """Read filters, ordering and pagination; malformed values are 400, unknown parameters ignored;
    page numbers reach `max_offset` items deep, cursors any depth."""
    check_query(query)
    ordering = _ordering(query)
    cursor_mode = "cursor" in query
    if cursor_mode and "page" in query:
        raise BadRequest('Query parameters "page" and "cursor" cannot be combined.')
    cursor = single(query, "cursor")
    return Listing(
        clients=_clients(query),
        integrations=_chosen(query, "integration", slug_of),
        providers=_repeated(query, "provider"),
        statuses=_chosen(query, "status"),
        name_pattern=like_pattern(single(query, "name")),
        ordering=ordering,
        page=parse_page(query, None if cursor_mode else max_offset),
        cursor_mode=cursor_mode,
        after=decode_cursor(cursor, ordering) if cursor else None,
    )


def _repeated(query: Query, name: str, convert: Callable[[str], str] | None = None) -> list[str] | None:
    """`name=a&name=b` and `name[]=a&name[]=b` alike; absent or all-empty means no filter."""
    values = [value for key in (name, f"{name}[]") for value in query.get(key, ()) if value != ""]
    if not values:
        return None
    return [convert(value) for value in values] if convert else values


def _chosen(query: Query, name: str, convert: Callable[[str], str] | None = None) -> list[str] | None:
    """A filter whose values come from FILTER_CHOICES: each given value must be one of them."""
    choices = FILTER_CHOICES[name]
    for key in (name, f"{name}[]"):
        for value in query.get(key, ()):
            if value not in choices:
                raise BadRequest(f'"{key}" takes one of: {", ".join(choices)}.')
    return _repeated(query, name, convert)


def _clients(query: Query) -> list[UUID] | None:
    values = _repeated(query, "client")
    if values is None:
        return None
    # A value that names no client matches nothing, as an unknown IRI does in API Platform.
    return [client for client in map(client_id_of, values) if client is not None]


def _ordering(query: Query) -> Ordering:
    chosen: list[Ordering] = []
    for key, field in _ORDER_KEYS.items():
        values = query.get(key)
        if values is None:
            continue
        if len(values) != 1 or values[0].lower() not in ("asc", "desc"):
            raise BadRequest(f'Query parameter "{key}" must be "asc" or "desc".')
        chosen.append(Ordering(field, values[0].lower() == "desc"))
    if len(chosen) > 1:
        raise BadRequest("Only one order[...] parameter may be given.")
    return chosen[0] if chosen else Ordering()
