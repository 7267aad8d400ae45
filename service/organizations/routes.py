"""`/api/organizations/{id}`: an owner reads its organization and sets the browser origins it allows."""

from __future__ import annotations

from litestar import Response, get, patch
from litestar.di import NamedDependency

from service.auth.guards import TENANT_WRITERS as OWNERS
from service.auth.guards import Caller, TenantController
from service.organizations.directory import OriginDirectory
from service.organizations.schema import RESOURCE, OrganizationPatch, OrganizationView, fields, iri_of
from service.organizations.store import Organizations
from service.web import hydra
from service.web.bodies import MERGE_PATCH
from service.web.formats import negotiate
from service.web.openapi import linked_data_operation
from service.web.operations import read_item, update_item
from service.web.resource import AnyRequest, PatchData, UuidPath, body_of

ITEM = "/{organization_id:uuid}"
Store = NamedDependency[Organizations]
_SHOWING = "The caller's own organization (owners); any other id is 404."
_PATCHING = (
    "JSON merge patch: `allowedOrigins` replaces the browser origins allowed to call the API "
    "(exact `scheme://host[:port]`, at most 50, no wildcards or paths)."
)
ITEM_OPERATION = linked_data_operation(RESOURCE)


class OrganizationController(TenantController):
    path = "/api/organizations"
    tags = ["Organization"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get(ITEM, opt=OWNERS, **read_item(RESOURCE, OrganizationView, ITEM_OPERATION, _SHOWING))
    async def show(
        self, request: AnyRequest, organization_id: UuidPath, organizations: Store, principal: Caller,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        row = await organizations.get(principal, organization_id)
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)))

    @patch(
        ITEM,
        opt=OWNERS,
        **update_item(RESOURCE, OrganizationPatch, OrganizationView, ITEM_OPERATION, _PATCHING),
    )
    async def update(
        self, request: AnyRequest, organization_id: UuidPath, organizations: Store, principal: Caller,
        origin_directory: NamedDependency[OriginDirectory], data: PatchData[OrganizationPatch] = None,
    ) -> Response[bytes]:
        fmt = negotiate(request.headers.get("accept"))
        body = body_of(request, data, OrganizationPatch, MERGE_PATCH)
        row = await organizations.update(principal, organization_id, body)
        origin_directory.replace(row["id"], row["allowed_origins"])
        return hydra.respond(fmt, hydra.item(fmt, RESOURCE, iri_of(row), fields(row)))
