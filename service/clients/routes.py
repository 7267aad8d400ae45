"""`/api/clients`: the organization's clients, read by owners and viewers, changed by owners."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import ParamType
from litestar.openapi.spec import OpenAPIType, Parameter, Schema
from litestar.params import Body, FromPath

from service.auth.guards import requires
from service.auth.principal import Principal, Role
from service.clients import store
from service.clients.iri import client_iri
from service.clients.representation import COLLECTION_IRI, RESOURCE, ClientView, fields, iri_of
from service.clients.schema import ClientCreate, ClientPatch
from service.db.pool import Database
from service.errors import BadRequest
from service.web import hydra
from service.web.bodies import JSON_TYPES, MERGE_PATCH, decode
from service.web.formats import negotiate
from service.web.openapi import (
    JsonBody,
    MergePatchBody,
    error_responses,
    linked_data_operation,
    page_parameters,
    success,
    with_item_links,
)
from service.web.pagination import page_view, parse_page

T = TypeVar("T")
AnyRequest = Request[Any, Any, Any]
READERS = requires(Role.OWNER, Role.VIEWER)
WRITERS = requires(Role.OWNER)
# A user's bearer token or the organization's API key (which acts as its owner).
SECURITY: list[dict[str, list[str]]] = [{"JWT": []}, {"ApiKey": []}]
_LOCATION = ResponseHeader(name="Location", documentation_only=True)


def _query_parameter(name: str, description: str, kind: OpenAPIType) -> Parameter:
    return Parameter(
        name=name, param_in=ParamType.QUERY, required=False, description=description, schema=Schema(type=kind)
    )


COLLECTION_OPERATION = linked_data_operation(
    RESOURCE,
    (
        *page_parameters(),
        _query_parameter("name", "Case-insensitive substring of the name", OpenAPIType.STRING),
    ),
)
ITEM_OPERATION = linked_data_operation(RESOURCE)
CREATE_OPERATION = with_item_links(
    ITEM_OPERATION,
    {
        "GetClient": ("/api/clients/{client_id}", "get", "client_id"),
        "UpdateClient": ("/api/clients/{client_id}", "patch", "client_id"),
        "RemoveClient": ("/api/clients/{client_id}", "delete", "client_id"),
    },
)


def _query(request: AnyRequest) -> dict[str, list[str]]:
    query = {key: request.query_params.getall(key) for key in request.query_params}
    # PostgreSQL text cannot hold NUL: refused here, it would fail the query as a 500.
    if any("\x00" in value for values in query.values() for value in values):
        raise BadRequest("Query parameters must not contain NUL characters.")
    return query


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name) or []
    return values[-1] if values else None


def _empty_body(request: AnyRequest, kind: type[T], accepted: tuple[str, ...]) -> T:
    """An empty body never reaches the decoder; decoding it here gives the same 415 or 400."""
    return decode(b"", kind, request.headers.get("content-type"), accepted)


class ClientController(Controller):
    path = COLLECTION_IRI
    tags = ["Client"]  # noqa: RUF012 - Litestar reads it as a class attribute
    security = SECURITY

    @get(
        "/",
        opt=READERS,
        summary="Retrieves the collection of Client resources.",
        description="The organization's clients (owners and viewers), oldest first.",
        operation_class=COLLECTION_OPERATION,
        responses={
            200: success(list[ClientView], "Client collection"),
            **error_responses(400, 401, 403, 406),
        },
    )
    async def list(
        self, request: AnyRequest, db: NamedDependency[Database], principal: NamedDependency[Principal]
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        query = _query(request)
        page = parse_page(query)
        total, rows = await store.list_clients(db, principal, page, _single(query, "name"))
        members = [hydra.member(fmt, RESOURCE, iri_of(row), fields(row)) for row in rows]
        document = hydra.collection(
            fmt,
            RESOURCE,
            COLLECTION_IRI,
            members,
            total=total,
            view=page_view(COLLECTION_IRI, query, page, total),
            search=hydra.search_template(COLLECTION_IRI, [("name", "name")]),
        )
        return hydra.respond(fmt, document)

    @get(
        "/{client_id:uuid}",
        opt=READERS,
        summary="Retrieves a Client resource.",
        operation_class=ITEM_OPERATION,
        responses={200: success(ClientView, "Client resource"), **error_responses(401, 403, 404, 406)},
    )
    async def show(
        self,
        request: AnyRequest,
        client_id: FromPath[uuid.UUID],
        db: NamedDependency[Database],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        row = await store.get_client(db, principal, client_id)
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)), tagged=True)

    @post(
        "/",
        opt=WRITERS,
        dto=JsonBody[ClientCreate],
        return_dto=None,
        summary="Creates a Client resource.",
        operation_class=CREATE_OPERATION,
        response_headers=[_LOCATION],
        responses={
            201: success(ClientView, "Client resource created"),
            **error_responses(400, 401, 403, 406, 415, 422),
        },
    )
    async def create(
        self,
        request: AnyRequest,
        db: NamedDependency[Database],
        principal: NamedDependency[Principal],
        data: Annotated[ClientCreate | None, Body()] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = data if data is not None else _empty_body(request, ClientCreate, JSON_TYPES)
        row = await store.create_client(db, principal, body)
        iri = client_iri(row["id"])
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri, fields(row)), 201, {"Location": iri})

    @patch(
        "/{client_id:uuid}",
        opt=WRITERS,
        dto=MergePatchBody[ClientPatch],
        return_dto=None,
        summary="Updates the Client resource.",
        description="JSON merge patch: absent keeps a field, `website: null` removes the website.",
        operation_class=ITEM_OPERATION,
        responses={
            200: success(ClientView, "Client resource updated"),
            **error_responses(400, 401, 403, 404, 406, 415, 422),
        },
    )
    async def update(
        self,
        request: AnyRequest,
        client_id: FromPath[uuid.UUID],
        db: NamedDependency[Database],
        principal: NamedDependency[Principal],
        data: Annotated[ClientPatch | None, Body(media_type=MERGE_PATCH[0])] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = data if data is not None else _empty_body(request, ClientPatch, MERGE_PATCH)
        row = await store.update_client(db, principal, client_id, body)
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)))

    @delete(
        "/{client_id:uuid}",
        opt=WRITERS,
        summary="Removes the Client resource.",
        description="Only a client without live accounts can be removed (409 otherwise): removing its "
        "accounts first is what tells the inbox workers.",
        operation_class=ITEM_OPERATION,
        responses=error_responses(401, 403, 404, 409, notes={409: "The client still has live accounts"}),
    )
    async def remove(
        self,
        client_id: FromPath[uuid.UUID],
        db: NamedDependency[Database],
        principal: NamedDependency[Principal],
    ) -> None:
        await store.delete_client(db, principal, client_id)
