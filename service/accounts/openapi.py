"""How `/api/accounts` is described: its query parameters, headers and OpenAPI operations."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, PathParameter

from service.accounts import idempotency
from service.accounts.listing import SEARCH_VARIABLES
from service.accounts.parameters import COLLECTION_PARAMETERS
from service.accounts.representation import COLLECTION_IRI, RESOURCE
from service.web import hydra
from service.web.openapi import linked_data_operation

SEARCH = hydra.search_template(COLLECTION_IRI, SEARCH_VARIABLES)
_ETAG = {"ETag": 'W/"<version>": the version, for If-Match'}


AccountId = Annotated[str, PathParameter(description="Account identifier")]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='An ETag from a read (W/"3" or "3"), or *; a stale one is 412',
    ),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="Up to 255 printable ASCII characters, per organization: a retry within 24 hours "
        "replays the first response; the same key with another body is 422, while the first runs 409",
        schema_extra={"pattern": idempotency.KEY_PATTERN},
    ),
]
COLLECTION_OPERATION = linked_data_operation(
    RESOURCE,
    COLLECTION_PARAMETERS,
    {"Link": 'first/prev/next/last page links (rel="next" carries the next cursor)'},
)
CREATE_OPERATION = linked_data_operation(
    RESOURCE,
    headers={
        **_ETAG,
        "Location": "IRI of the account",
        "Idempotent-Replayed": '"true" when this is the stored answer to an earlier request with the key',
    },
)
ITEM_OPERATION = linked_data_operation(RESOURCE, headers=_ETAG)
DELETE_OPERATION = linked_data_operation(RESOURCE)
CREDENTIALS_OPERATION = linked_data_operation("AccountCredentials")
# What a created account's id opens: the item operations, as OpenAPI links from the 201 answer.
ITEM_LINKS = {
    "GetAccount": ("/api/accounts/{account_id}", "get", "account_id"),
    "UpdateAccount": ("/api/accounts/{account_id}", "patch", "account_id"),
    "RemoveAccount": ("/api/accounts/{account_id}", "delete", "account_id"),
    "GetAccountCredentials": ("/api/accounts/{account_id}/credentials", "get", "account_id"),
}
