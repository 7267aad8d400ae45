"""`/api/accounts`: the HTTP face of the account use cases, in API Platform's shapes and status codes."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
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
from service.web.openapi import SECURITY, with_item_links
from service.web.operations import create_item, read_collection, read_item, remove_item, update_item
from service.web.pagination import cursor_view, page_view
from service.web.resource import AnyRequest, JsonData, PatchData, body_of, not_found, query_of
from service.web.responses import error_responses, success

READERS = requires(Role.OWNER, Role.VIEWER, Role.CUSTOMER, Role.WORKER)
WRITERS = requires(Role.OWNER, Role.CUSTOMER)
ITEM = "/{account_id:str}"
UseCases = NamedDependency[Accounts]
PATCHERS = requires(Role.OWNER, Role.CUSTOMER, Role.WORKER)
WORKERS = requires(Role.WORKER)

_WORKER_FIELDS = ("status", "status_reason")
_CREATING = (
    "Connects a new account (e.g., WhatsApp, LinkedIn, etc.) to the inbox. The payload includes "
    "authentication and setup details. New accounts start `connecting`."
)
_CREATE_ERRORS = (400, 401, 403, 406, 409, 415, 422)
_PATCHING = (
    "Updates configuration details for a connected account, such as access settings or metadata (JSON "
    "merge patch: absent keeps a field, null removes an optional one; settings and metadata are replaced "
    "whole). Workers may send only `status` and `statusReason`."
)
_PATCH_ERRORS = (400, 401, 403, 404, 406, 409, 412, 415, 422)
_PAUSED = {409: "A worker reported the status of a paused account"}
_REMOVING = "Removes a connected account from the inbox system; its credentials are destroyed."
_LISTING = "Returns all connected accounts across all integrations, filtered and paginated."
_SHOWING = "Returns details of a specific connected account (e.g., WhatsApp number or LinkedIn login)."
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

    @get("/", opt=READERS, **read_collection(RESOURCE, list[Account], COLLECTION_OPERATION, _LISTING))
    async def collection(
        self, request: AnyRequest, accounts: UseCases,
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

    @get(ITEM, opt=READERS, **read_item(RESOURCE, Account, ITEM_OPERATION, _SHOWING))
    async def show(self, request: AnyRequest, account_id: AccountId, accounts: UseCases) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        return _item(fmt, await accounts.get(current_principal(request), _account_id(account_id)))

    @post(
        "/",
        opt=WRITERS,
        **create_item(
            RESOURCE,
            AccountCreate,
            Account,
            with_item_links(CREATE_OPERATION, ITEM_LINKS),
            _CREATING,
            errors=_CREATE_ERRORS,
            location=False,
        ),
    )
    async def create(
        self, request: AnyRequest, idempotency_key: IdempotencyKey, accounts: UseCases,
        data: JsonData[AccountCreate] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = body_of(request, data, AccountCreate, JSON_TYPES)
        key = idempotency.parse_key(idempotency_key)
        created = await accounts.create(current_principal(request), body, key)
        location = iri(created.account_id)
        document = hydra.item(fmt, RESOURCE, location, created.document)
        headers = {"Location": location, "ETag": etag(created.document["version"])}
        if created.replayed:
            headers["Idempotent-Replayed"] = "true"
        return hydra.respond(fmt, document, created.status, headers)

    @patch(
        ITEM,
        opt=PATCHERS,
        **update_item(
            RESOURCE, AccountPatch, Account, ITEM_OPERATION, _PATCHING, errors=_PATCH_ERRORS, notes=_PAUSED
        ),
    )
    async def update(
        self, request: AnyRequest, account_id: AccountId, if_match: IfMatch,
        accounts: UseCases, data: PatchData[AccountPatch] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = body_of(request, data, AccountPatch, MERGE_PATCH)
        principal = current_principal(request)
        change = _status_report(body) if principal.is_worker else body
        row = await accounts.update(principal, _account_id(account_id), change, if_match)
        return _item(fmt, row)

    @delete(ITEM, opt=WRITERS, **remove_item(RESOURCE, DELETE_OPERATION, _REMOVING, (401, 403, 404, 412)))
    async def remove(
        self, request: AnyRequest, account_id: AccountId, if_match: IfMatch, accounts: UseCases,
    ) -> None:
        account = _account_id(account_id)
        await accounts.delete(current_principal(request), account, if_match)
        audit.of_request(request, "account.deleted", account=str(account))

    @get(
        f"{ITEM}/credentials",
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
        self, request: AnyRequest, account_id: AccountId, accounts: UseCases,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        account = _account_id(account_id)
        secrets = await accounts.credentials(current_principal(request), account)
        audit.of_request(request, "credentials.read", account=str(account))
        location = f"{iri(account)}/credentials"
        document = hydra.item(fmt, "AccountCredentials", location, {"credentials": secrets})
        return hydra.respond(fmt, document, headers=NO_STORE)
