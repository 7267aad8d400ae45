"""Page-number pagination as API Platform does it: `page` and `itemsPerPage`, with `view` links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from service.errors import BadRequest
from service.web.resource import single

DEFAULT_ITEMS_PER_PAGE = 30
MAX_ITEMS_PER_PAGE = 100
# Deeper than this, OFFSET scans cost too much; clients page further with `cursor`.
MAX_PAGE = 100_000
# How far page numbers reach by default where a cursor can go further (PAGINATION_MAX_OFFSET).
DEFAULT_MAX_OFFSET = 10_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    items_per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.items_per_page


def _integer(query: Mapping[str, Sequence[str]], name: str, default: int, low: int, high: int) -> int:
    raw = single(query, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f'Query parameter "{name}" must be an integer.') from None
    if not low <= value <= high:
        raise BadRequest(f'Query parameter "{name}" must be between {low} and {high}.')
    return value


def parse_page(query: Mapping[str, Sequence[str]], max_offset: int | None = None) -> PageRequest:
    """Read `page` (≥ 1) and `itemsPerPage` (1 to 100); anything else is a 400, and so is a page
    reaching past `max_offset` items (every skipped row costs the database a read)."""
    request = PageRequest(
        page=_integer(query, "page", 1, 1, MAX_PAGE),
        items_per_page=_integer(query, "itemsPerPage", DEFAULT_ITEMS_PER_PAGE, 1, MAX_ITEMS_PER_PAGE),
    )
    if max_offset is not None and request.page * request.items_per_page > max_offset:
        raise BadRequest(
            f"Page numbers reach the first {max_offset} items only (page x itemsPerPage); page further "
            'with "cursor=" (empty for the first page, then the value in view.next), which has no limit.'
        )
    return request


def query_string(query: Mapping[str, Sequence[str]], **replace: str | int | None) -> str:
    """The request's query with some parameters replaced (None removes one), order kept."""
    pairs = [(k, v) for k, values in query.items() if k not in replace for v in values]
    pairs += [(k, str(v)) for k, v in replace.items() if v is not None]
    return urlencode(pairs)


def page_view(
    path: str, query: Mapping[str, Sequence[str]], request: PageRequest, total: int
) -> dict[str, Any]:
    """The PartialCollectionView of a numbered page; `previous`/`next` only where they exist."""
    last = max(1, -(-total // request.items_per_page))

    def link(page: int) -> str:
        return f"{path}?{query_string(query, page=page)}"

    view: dict[str, Any] = {
        "@id": link(request.page),
        "@type": "PartialCollectionView",
        "first": link(1),
        "last": link(last),
    }
    if request.page > 1:
        view["previous"] = link(request.page - 1)
    if request.page < last:
        view["next"] = link(request.page + 1)
    return view


def cursor_view(
    path: str, query: Mapping[str, Sequence[str]], next_cursor: str | None
) -> dict[str, Any]:
    """The view of a cursor page: no `last` and no total, only the way forward."""
    view: dict[str, Any] = {
        "@id": f"{path}?{query_string(query)}",
        "@type": "PartialCollectionView",
        "first": f"{path}?{query_string(query, cursor='')}",
    }
    if next_cursor is not None:
        view["next"] = f"{path}?{query_string(query, cursor=next_cursor)}"
    return view
