"""`/api/integrations`: the catalog, readable by every authenticated caller."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from service.auth.guards import requires
from service.auth.principal import Role
from service.integrations.catalog import IRI_PREFIX, Catalog, Integration
from service.integrations.schema import Integration as IntegrationShape
from service.web import hydra
from service.web.formats import negotiate
from service.web.openapi import SECURITY, linked_data_operation, page_parameters
from service.web.operations import read_collection, read_item
from service.web.pagination import page_view, parse_page
from service.web.resource import not_found

RESOURCE = "Integration"
COLLECTION_IRI = "/api/integrations"
READERS = requires(Role.OWNER, Role.VIEWER, Role.CUSTOMER, Role.WORKER)
OPERATION = linked_data_operation(RESOURCE)
COLLECTION_OPERATION = linked_data_operation(RESOURCE, page_parameters())


def fields(catalog: Catalog, integration: Integration) -> dict[str, Any]:
    return {
        "id": integration.slug,
        "name": integration.name,
        "provider": integration.provider,
        "type": integration.type,
        "available": catalog.is_available(integration),
        "credentialFields": [
            {"name": field.name, "label": field.label, "secret": field.secret} for field in integration.fields
        ],
        "requiredCredentials": [list(option) for option in integration.required],
    }


class IntegrationController(Controller):
    path = COLLECTION_IRI
    tags = ["Integration"]  # noqa: RUF012 - Litestar reads it as a class attribute
    security = SECURITY

    # Guards on the handlers, not the controller: the automatic OPTIONS handler must not need credentials.
    @get(
        "/",
        opt=READERS,
        **read_collection(
            RESOURCE,
            list[IntegrationShape],
            COLLECTION_OPERATION,
            "Every integration, with whether it accepts new accounts and the credentials it needs.",
        ),
    )
    async def collection(
        self, request: Request[Any, Any, Any], catalog: NamedDependency[Catalog],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        query = {key: request.query_params.getall(key) for key in request.query_params}
        page = parse_page(query)
        chosen = list(catalog)[page.offset : page.offset + page.items_per_page]
        members = [hydra.member(fmt, RESOURCE, item.iri, fields(catalog, item)) for item in chosen]
        view = page_view(COLLECTION_IRI, query, page, len(catalog))
        document = hydra.collection(fmt, RESOURCE, COLLECTION_IRI, members, total=len(catalog), view=view)
        return hydra.respond(fmt, document)

    @get(
        "/{slug:str}",
        opt=READERS,
        **read_item(RESOURCE, IntegrationShape, OPERATION, "One integration, by slug."),
    )
    async def show(
        self, request: Request[Any, Any, Any],
        slug: Annotated[str, PathParameter(description="Integration slug, e.g. whatsapp")],
        catalog: NamedDependency[Catalog],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        integration = catalog.get(slug)
        if integration is None:
            raise not_found()
        document = hydra.item(fmt, RESOURCE, IRI_PREFIX + slug, fields(catalog, integration))
        return hydra.respond(fmt, document, tagged=True)
