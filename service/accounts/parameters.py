"""The query parameters of `GET /api/accounts` as the OpenAPI document states them (the handler reads
the query itself, through `service.accounts.listing`)."""

from __future__ import annotations

from typing import Any, get_args

from litestar.enums import ParamType
from litestar.openapi.spec import OpenAPIType, Parameter, Schema

from service.accounts.listing import SEARCH_VARIABLES
from service.accounts.schema import IntegrationReference, Status
from service.web.openapi import page_parameters


def _query_parameter(name: str, description: str, schema: Schema) -> Parameter:
    return Parameter(
        name=name, param_in=ParamType.QUERY, required=False, description=description, schema=schema
    )


_TEXT = Schema(type=OpenAPIType.STRING)
_ORDER = Schema(type=OpenAPIType.STRING, enum=["asc", "desc"])
_CHOICES: dict[str, list[Any]] = {
    "integration": list(get_args(IntegrationReference)),
    "status": list(get_args(Status)),
}
# `name[]=a&name[]=b` (API Platform's form) and `name=a&name=b` filter alike; the document lists the
# second only, as a repeatable array: generators name both forms the same and would drop the operation.
_REPEATABLE = ("integration", "provider", "status", "client")
COLLECTION_PARAMETERS = (
    *page_parameters(),
    _query_parameter(
        "cursor", "Keyset pagination: empty for the first page, then view.next's value", _TEXT
    ),
    *(
        _query_parameter(
            name,
            f"Filter on {prop} (repeatable; `{name}[]` works alike)",
            Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING, enum=_CHOICES.get(name))),
        )
        for name, prop in SEARCH_VARIABLES
        if name in _REPEATABLE
    ),
    _query_parameter("name", "Case-insensitive substring of the name", _TEXT),
    _query_parameter("order[createdAt]", "Order by creation time", _ORDER),
    _query_parameter("order[name]", "Order by name", _ORDER),
)
