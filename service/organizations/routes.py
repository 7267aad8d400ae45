"""`/api/organizations/{id}`: an owner reads its organization and sets the browser origins it allows."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch
from litestar.di import NamedDependency
from litestar.params import Body, FromPath

from service.auth.guards import requires
from service.auth.principal import Principal, Role
from service.organizations.directory import OriginDirectory
from service.organizations.schema import RESOURCE, OrganizationPatch, OrganizationView, fields, iri_of
from service.organizations.store import Organizations
from service.web import hydra
from service.web.bodies import MERGE_PATCH
from service.web.formats import negotiate
from service.web.openapi import MergePatchBody, error_responses, linked_data_operation, success
from service.web.operations import read_item
from service.web.resource import empty_body

AnyRequest = Request[Any, Any, Any]
OWNERS = requires(Role.OWNER)
ITEM_OPERATION = linked_data_operation(RESOURCE)


class OrganizationController(Controller):
    path = "/api/organizations"
    tags = ["Organization"]  # noqa: RUF012 - Litestar reads it as a class attribute
    security = [{"JWT": []}, {"ApiKey": []}]  # noqa: RUF012

    @get(
        "/{organization_id:uuid}",
        opt=OWNERS,
        **read_item(
            RESOURCE,
            OrganizationView,
            ITEM_OPERATION,
            "The caller's own organization (owners); any other id is 404.",
        ),
    )
    async def show(
        self,
        request: AnyRequest,
        organization_id: FromPath[uuid.UUID],
        organizations: NamedDependency[Organizations],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        row = await organizations.get(principal, organization_id)
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)))

    @patch(
        "/{organization_id:uuid}",
        opt=OWNERS,
        dto=MergePatchBody[OrganizationPatch],
        return_dto=None,
        summary="Updates the Organization resource.",
        description="JSON merge patch: `allowedOrigins` replaces the browser origins allowed to call the API "
        "(exact `scheme://host[:port]`, at most 50, no wildcards or paths).",
        operation_class=ITEM_OPERATION,
        responses={
            200: success(OrganizationView, "Organization resource updated"),
            **error_responses(400, 401, 403, 404, 406, 415, 422),
        },
    )
    async def update(
        self,
        request: AnyRequest,
        organization_id: FromPath[uuid.UUID],
        organizations: NamedDependency[Organizations],
        principal: NamedDependency[Principal],
        origin_directory: NamedDependency[OriginDirectory],
        data: Annotated[OrganizationPatch | None, Body(media_type=MERGE_PATCH[0])] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = data if data is not None else empty_body(request, OrganizationPatch, MERGE_PATCH)
        row = await organizations.update(principal, organization_id, body)
        origin_directory.replace(row["id"], row["allowed_origins"])
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)))
