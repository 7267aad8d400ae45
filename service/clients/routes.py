"""`/api/clients`: the organization's clients, read by owners and viewers, changed by owners."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import Body, FromPath

from service.auth import audit
from service.auth.guards import requires
from service.auth.principal import Principal, Role
from service.clients.representation import COLLECTION_IRI, RESOURCE, ClientView, fields, iri_of
from service.clients.schema import ClientCreate, ClientPatch
from service.clients.store import Clients
from service.web import hydra
from service.web.bodies import JSON_TYPES, MERGE_PATCH
from service.web.formats import negotiate
from service.web.iri import client_iri
from service.web.openapi import (
    JsonBody,
    MergePatchBody,
    error_responses,
    linked_data_operation,
    page_parameters,
    query_parameter,
    success,
    with_item_links,
)
from service.web.operations import read_collection, read_item
from service.web.pagination import page_view, parse_page
from service.web.resource import empty_body, query_of, single

AnyRequest = Request[Any, Any, Any]
READERS = requires(Role.OWNER, Role.VIEWER)
WRITERS = requires(Role.OWNER)
# A user's bearer token or the organization's API key (which acts as its owner).
SECURITY: list[dict[str, list[str]]] = [{"JWT": []}, {"ApiKey": []}]
_LOCATION = ResponseHeader(name="Location", documentation_only=True)


COLLECTION_OPERATION = linked_data_operation(
    RESOURCE,
    (
        *page_parameters(),
        query_parameter("name", "Case-insensitive substring of the name", Schema(type=OpenAPIType.STRING)),
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


class ClientController(Controller):
    path = COLLECTION_IRI
    tags = ["Client"]  # noqa: RUF012 - Litestar reads it as a class attribute
    security = SECURITY

    @get(
        "/",
        opt=READERS,
        **read_collection(
            RESOURCE,
            list[ClientView],
            COLLECTION_OPERATION,
            "The organization's clients (owners and viewers), oldest first.",
        ),
    )
    async def list(
        self, request: AnyRequest, clients: NamedDependency[Clients], principal: NamedDependency[Principal]
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        query = query_of(request)
        page = parse_page(query)
        total, rows = await clients.collection(principal, page, single(query, "name"))
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
        **read_item(RESOURCE, ClientView, ITEM_OPERATION),
    )
    async def show(
        self,
        request: AnyRequest,
        client_id: FromPath[uuid.UUID],
        clients: NamedDependency[Clients],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        row = await clients.get(principal, client_id)
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
        clients: NamedDependency[Clients],
        principal: NamedDependency[Principal],
        data: Annotated[ClientCreate | None, Body()] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = data if data is not None else empty_body(request, ClientCreate, JSON_TYPES)
        row = await clients.create(principal, body)
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
        clients: NamedDependency[Clients],
        principal: NamedDependency[Principal],
        data: Annotated[ClientPatch | None, Body(media_type=MERGE_PATCH[0])] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = data if data is not None else empty_body(request, ClientPatch, MERGE_PATCH)
        row = await clients.update(principal, client_id, body)
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
        request: AnyRequest,
        client_id: FromPath[uuid.UUID],
        clients: NamedDependency[Clients],
        principal: NamedDependency[Principal],
    ) -> None:
        await clients.delete(principal, client_id)
        audit.of_request(request, "client.deleted", deleted_client=str(client_id))
