"""The query parameters of `GET /api/accounts` as the OpenAPI document states them (the handler reads
the query itself, through `service.accounts.listing`)."""

from __future__ import annotations

from typing import Any

from litestar.openapi.spec import OpenAPIType, Schema

from service.accounts.listing import FILTER_CHOICES, SEARCH_VARIABLES
from service.web.openapi import page_parameters, query_parameter
from service.web.pagination import DEFAULT_MAX_OFFSET

_TEXT = Schema(type=OpenAPIType.STRING)
_ORDER = Schema(type=OpenAPIType.STRING, enum=["asc", "desc"])


def _choices(name: str) -> list[Any] | None:
    return list(FILTER_CHOICES[name]) if name in FILTER_CHOICES else None


# `name[]=a&name[]=b` (API Platform's form) and `name=a&name=b` filter alike; the document lists the
# second only, as a repeatable array: generators name both forms the same and would drop the operation.
_REPEATABLE = ("integration", "provider", "status", "client")
# Page numbers reach PAGINATION_MAX_OFFSET items deep: documented with the smallest page size (the
# product with itemsPerPage is beyond what a schema says, hence the description).
_PAGE = query_parameter(
    "page",
    f"The collection page number (default 1); page x itemsPerPage at most {DEFAULT_MAX_OFFSET}, "
    "deeper with cursor",
    Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=DEFAULT_MAX_OFFSET),
)
COLLECTION_PARAMETERS = (
    _PAGE,
    page_parameters()[1],
    query_parameter("cursor", "Keyset pagination: empty for the first page, then view.next's value", _TEXT),
    *(
        query_parameter(
            name,
            f"Filter on {prop} (repeatable; `{name}[]` works alike)",
            Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING, enum=_choices(name))),
        )
        for name, prop in SEARCH_VARIABLES
        if name in _REPEATABLE
    ),
    query_parameter("name", "Case-insensitive substring of the name", _TEXT),
    query_parameter("order[createdAt]", "Order by creation time", _ORDER),
    query_parameter("order[name]", "Order by name", _ORDER),
)
