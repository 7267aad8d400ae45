"""`/api/clients`: the organization's clients, read by owners and viewers, changed by owners."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from service.auth.guards import requires
from service.auth.principal import Principal, Role
from service.clients import store
from service.clients.iri import client_iri
from service.clients.representation import COLLECTION_IRI, RESOURCE, fields, iri_of
from service.clients.schema import ClientCreate, ClientPatch
from service.db.pool import Database
from service.web import hydra
from service.web.bodies import JSON_TYPES, MERGE_PATCH, decode
from service.web.formats import negotiate
from service.web.pagination import page_view, parse_page

AnyRequest = Request[Any, Any, Any]
READERS = requires(Role.OWNER, Role.VIEWER)
WRITERS = requires(Role.OWNER)


def _query(request: AnyRequest) -> dict[str, list[str]]:
    return {key: request.query_params.getall(key) for key in request.query_params}


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name) or []
    return values[-1] if values else None


class ClientController(Controller):
    path = "/api/clients"
    tags = ["Client"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", guards=[READERS], summary="The organization's clients")
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

    @get("/{client_id:uuid}", guards=[READERS], summary="One client")
    async def show(
        self,
        request: AnyRequest,
        client_id: FromPath[uuid.UUID],
        db: NamedDependency[Database],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        row = await store.get_client(db, principal, client_id)
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)))

    @post("/", guards=[WRITERS], summary="Add a client")
    async def create(
        self, request: AnyRequest, db: NamedDependency[Database], principal: NamedDependency[Principal]
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = decode(await request.body(), ClientCreate, request.headers.get("content-type"), JSON_TYPES)
        row = await store.create_client(db, principal, body)
        iri = client_iri(row["id"])
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri, fields(row)), 201, {"Location": iri})

    @patch("/{client_id:uuid}", guards=[WRITERS], summary="Change a client (JSON merge patch)")
    async def update(
        self,
        request: AnyRequest,
        client_id: FromPath[uuid.UUID],
        db: NamedDependency[Database],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = decode(await request.body(), ClientPatch, request.headers.get("content-type"), MERGE_PATCH)
        row = await store.update_client(db, principal, client_id, body)
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)))

    @delete("/{client_id:uuid}", guards=[WRITERS], summary="Remove a client without accounts")
    async def remove(
        self,
        client_id: FromPath[uuid.UUID],
        db: NamedDependency[Database],
        principal: NamedDependency[Principal],
    ) -> None:
        await store.delete_client(db, principal, client_id)
