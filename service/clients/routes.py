"""`/api/clients`: the organization's clients, read by owners and viewers, changed by owners."""

from __future__ import annotations

from litestar import Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema

from service.auth import audit
from service.auth.guards import TENANT_READERS as READERS
from service.auth.guards import TENANT_WRITERS as WRITERS
from service.auth.guards import Caller, TenantController
from service.clients.representation import COLLECTION_IRI, RESOURCE, ClientView, fields, iri_of
from service.clients.schema import ClientCreate, ClientPatch
from service.clients.store import Clients
from service.web import hydra
from service.web.bodies import JSON_TYPES, MERGE_PATCH
from service.web.formats import negotiate
from service.web.iri import client_iri
from service.web.openapi import linked_data_operation, page_parameters, query_parameter, with_item_links
from service.web.operations import create_item, read_collection, read_item, remove_item, update_item
from service.web.pagination import page_view, parse_page
from service.web.resource import AnyRequest, JsonData, PatchData, UuidPath, body_of, query_of, single

ITEM = "/{client_id:uuid}"
Store = NamedDependency[Clients]
_LISTING = "The organization's clients (owners and viewers), oldest first."
_PATCHING = "JSON merge patch: absent keeps a field, `website: null` removes the website."
_REMOVING = (
    "Only a client without live accounts can be removed (409 otherwise): removing its "
    "accounts first is what tells the inbox workers."
)
_REMOVE_ERRORS = (401, 403, 404, 409)
_IN_USE = {409: "The client still has live accounts"}


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


class ClientController(TenantController):
    path = COLLECTION_IRI
    tags = ["Client"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", opt=READERS, **read_collection(RESOURCE, list[ClientView], COLLECTION_OPERATION, _LISTING))
    async def list(self, request: AnyRequest, clients: Store, principal: Caller) -> Response[bytes]:
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

    @get(ITEM, opt=READERS, **read_item(RESOURCE, ClientView, ITEM_OPERATION))
    async def show(
        self, request: AnyRequest, client_id: UuidPath, clients: Store, principal: Caller,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        row = await clients.get(principal, client_id)
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)), tagged=True)

    @post("/", opt=WRITERS, **create_item(RESOURCE, ClientCreate, ClientView, CREATE_OPERATION))
    async def create(
        self, request: AnyRequest, clients: Store, principal: Caller, data: JsonData[ClientCreate] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = body_of(request, data, ClientCreate, JSON_TYPES)
        row = await clients.create(principal, body)
        iri = client_iri(row["id"])
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri, fields(row)), 201, {"Location": iri})

    @patch(ITEM, opt=WRITERS, **update_item(RESOURCE, ClientPatch, ClientView, ITEM_OPERATION, _PATCHING))
    async def update(
        self, request: AnyRequest, client_id: UuidPath, clients: Store, principal: Caller,
        data: PatchData[ClientPatch] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = body_of(request, data, ClientPatch, MERGE_PATCH)
        row = await clients.update(principal, client_id, body)
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)))

    @delete(ITEM, opt=WRITERS, **remove_item(RESOURCE, ITEM_OPERATION, _REMOVING, _REMOVE_ERRORS, _IN_USE))
    async def remove(
        self, request: AnyRequest, client_id: UuidPath, clients: Store, principal: Caller,
    ) -> None:
        await clients.delete(principal, client_id)
        audit.of_request(request, "client.deleted", deleted_client=str(client_id))
