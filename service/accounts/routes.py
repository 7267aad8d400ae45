"""`/api/accounts`: the HTTP face of the account use cases, in API Platform's shapes and status codes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import Body
from msgspec import UNSET

from service.accounts import idempotency
from service.accounts.listing import parse_listing
from service.accounts.openapi import (
    COLLECTION_OPERATION,
    CREATE_OPERATION,
    CREDENTIALS_OPERATION,
    DELETE_OPERATION,
    ITEM_LINKS,
    ITEM_OPERATION,
    SEARCH,
    AccountId,
    IdempotencyKey,
    IfMatch,
)
from service.accounts.representation import COLLECTION_IRI, RESOURCE, etag, fields, iri
from service.accounts.schema import Account, AccountCreate, AccountCredentials, AccountPatch, StatusReport
from service.accounts.usecases import Accounts
from service.auth import audit
from service.auth.guards import current_principal, requires
from service.auth.principal import Role
from service.errors import BadRequest
from service.web import hydra
from service.web.bodies import JSON_TYPES, MERGE_PATCH
from service.web.formats import Format, negotiate
from service.web.headers import NO_STORE
from service.web.openapi import (
    SECURITY,
    JsonBody,
    MergePatchBody,
    error_responses,
    success,
    with_item_links,
)
from service.web.operations import read_collection, read_item
from service.web.pagination import cursor_view, page_view
from service.web.resource import empty_body, not_found, query_of

AnyRequest = Request[Any, Any, Any]
READERS = requires(Role.OWNER, Role.VIEWER, Role.CUSTOMER, Role.WORKER)
WRITERS = requires(Role.OWNER, Role.CUSTOMER)
PATCHERS = requires(Role.OWNER, Role.CUSTOMER, Role.WORKER)
WORKERS = requires(Role.WORKER)

_WORKER_FIELDS = ("status", "status_reason")
_LINK_RELATIONS = (("first", "first"), ("previous", "prev"), ("next", "next"), ("last", "last"))


def _account_id(text: str) -> uuid.UUID:
    """Ids that are not UUIDs name no account: 404, as API Platform answers."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise not_found() from None


def _item(fmt: Format, row: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    document = hydra.item(fmt, RESOURCE, iri(row["id"]), fields(row))
    return hydra.respond(fmt, document, status, {"ETag": etag(row["version"]), **(headers or {})})


def _links(view: dict[str, Any]) -> dict[str, str]:
    """The view's page links as an RFC 8288 Link header: plain JSON collections have no `view`."""
    links = [f'<{view[key]}>; rel="{rel}"' for key, rel in _LINK_RELATIONS if key in view]
    return {"Link": ", ".join(links)}


def _status_report(patch: AccountPatch) -> StatusReport:
    """A worker's PATCH: status and statusReason only; any other field is read-only for workers (400)."""
    for name in AccountPatch.__struct_fields__:
        if name not in _WORKER_FIELDS and getattr(patch, name) is not UNSET:
            shown = AccountPatch.__struct_encode_fields__[AccountPatch.__struct_fields__.index(name)]
            raise BadRequest(f'Extra attributes are not allowed ("{shown}" is unknown).')
    return StatusReport(status=patch.status, status_reason=patch.status_reason)


class AccountController(Controller):
    """Handlers take one dependency, the use cases (which hold the pool), and read the caller from the
    request: Litestar resolves two or more independent dependencies as tasks of a task group, too costly
    on this, the busiest path of the API."""

    path = COLLECTION_IRI
    tags = ["Account"]  # noqa: RUF012 - Litestar reads it as a class attribute
    security = SECURITY

    @get(
        "/",
        opt=READERS,
        **read_collection(
            RESOURCE,
            list[Account],
            COLLECTION_OPERATION,
            "Returns all connected accounts across all integrations, filtered and paginated.",
        ),
    )
    async def collection(
        self,
        request: AnyRequest,
        accounts: NamedDependency[Accounts],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        query = query_of(request)
        listing = parse_listing(query, accounts.pagination_max_offset)
        page = await accounts.collection(current_principal(request), listing)
        members = [hydra.member(fmt, RESOURCE, iri(row["id"]), fields(row)) for row in page.rows]
        if listing.cursor_mode:
            view = cursor_view(COLLECTION_IRI, query, page.next_cursor)
        else:
            view = page_view(COLLECTION_IRI, query, listing.page, page.total or 0)
        document = hydra.collection(
            fmt, RESOURCE, COLLECTION_IRI, members, total=page.total, view=view, search=SEARCH
        )
        return hydra.respond(fmt, document, headers=_links(view))

    @get(
        "/{account_id:str}",
        opt=READERS,
        **read_item(
            RESOURCE,
            Account,
            ITEM_OPERATION,
            "Returns details of a specific connected account (e.g., WhatsApp number or LinkedIn login).",
        ),
    )
    async def show(
        self,
        request: AnyRequest,
        account_id: AccountId,
        accounts: NamedDependency[Accounts],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        return _item(fmt, await accounts.get(current_principal(request), _account_id(account_id)))

    @post(
        "/",
        opt=WRITERS,
        dto=JsonBody[AccountCreate],
        return_dto=None,
        summary="Creates a Account resource.",
        description="Connects a new account (e.g., WhatsApp, LinkedIn, etc.) to the inbox. The payload "
        "includes authentication and setup details. New accounts start `connecting`.",
        operation_class=with_item_links(CREATE_OPERATION, ITEM_LINKS),
        responses={
            201: success(Account, "Account resource created"),
            **error_responses(400, 401, 403, 406, 409, 415, 422),
        },
    )
    async def create(
        self,
        request: AnyRequest,
        idempotency_key: IdempotencyKey,
        accounts: NamedDependency[Accounts],
        data: Annotated[AccountCreate | None, Body()] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        if data is None:
            data = empty_body(request, AccountCreate, JSON_TYPES)
        key = idempotency.parse_key(idempotency_key)
        created = await accounts.create(current_principal(request), data, key)
        location = iri(created.account_id)
        document = hydra.item(fmt, RESOURCE, location, created.document)
        headers = {"Location": location, "ETag": etag(created.document["version"])}
        if created.replayed:
            headers["Idempotent-Replayed"] = "true"
        return hydra.respond(fmt, document, created.status, headers)

    @patch(
        "/{account_id:str}",
        opt=PATCHERS,
        dto=MergePatchBody[AccountPatch],
        return_dto=None,
        summary="Updates the Account resource.",
        description="Updates configuration details for a connected account, such as access settings or "
        "metadata (JSON merge patch: absent keeps a field, null removes an optional one; settings and "
        "metadata are replaced whole). Workers may send only `status` and `statusReason`.",
        operation_class=ITEM_OPERATION,
        responses={
            200: success(Account, "Account resource updated"),
            **error_responses(
                400, 401, 403, 404, 406, 409, 412, 415, 422,
                notes={409: "A worker reported the status of a paused account"},
            ),
        },
    )
    async def update(
        self,
        request: AnyRequest,
        account_id: AccountId,
        if_match: IfMatch,
        accounts: NamedDependency[Accounts],
        data: Annotated[AccountPatch | None, Body(media_type=MERGE_PATCH[0])] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        if data is None:
            data = empty_body(request, AccountPatch, MERGE_PATCH)
        principal = current_principal(request)
        change = _status_report(data) if principal.is_worker else data
        row = await accounts.update(principal, _account_id(account_id), change, if_match)
        return _item(fmt, row)

    @delete(
        "/{account_id:str}",
        opt=WRITERS,
        summary="Removes the Account resource.",
        description="Removes a connected account from the inbox system; its credentials are destroyed.",
        operation_class=DELETE_OPERATION,
        responses=error_responses(401, 403, 404, 412),
    )
    async def remove(
        self,
        request: AnyRequest,
        account_id: AccountId,
        if_match: IfMatch,
        accounts: NamedDependency[Accounts],
    ) -> None:
        account = _account_id(account_id)
        await accounts.delete(current_principal(request), account, if_match)
        audit.of_request(request, "account.deleted", account=str(account))

    @get(
        "/{account_id:str}/credentials",
        opt=WORKERS,
        summary="Retrieves the decrypted credentials of an Account (workers only).",
        description="For inbox workers: the credentials the account was connected with.",
        operation_class=CREDENTIALS_OPERATION,
        responses={
            200: success(AccountCredentials, "Account credentials"),
            **error_responses(401, 403, 404, 406),
        },
    )
    async def credentials(
        self,
        request: AnyRequest,
        account_id: AccountId,
        accounts: NamedDependency[Accounts],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        account = _account_id(account_id)
        secrets = await accounts.credentials(current_principal(request), account)
        audit.of_request(request, "credentials.read", account=str(account))
        location = f"{iri(account)}/credentials"
        document = hydra.item(fmt, "AccountCredentials", location, {"credentials": secrets})
        return hydra.respond(fmt, document, headers=NO_STORE)
