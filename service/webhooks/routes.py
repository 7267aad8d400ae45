"""`/api/webhook_endpoints`: the organization's webhook endpoints and their deliveries (owners write)."""

from __future__ import annotations

from typing import Any

from litestar import Response, delete, get, patch, post
from litestar.di import NamedDependency

from service.auth.guards import TENANT_READERS as READERS
from service.auth.guards import TENANT_WRITERS as WRITERS
from service.auth.guards import Caller, TenantController
from service.web import hydra
from service.web.bodies import JSON_TYPES, MERGE_PATCH
from service.web.formats import negotiate
from service.web.headers import NO_STORE
from service.web.openapi import JsonBody, linked_data_operation, page_parameters, with_item_links
from service.web.operations import create_item, read_collection, read_item, remove_item, update_item
from service.web.pagination import page_view, parse_page
from service.web.resource import AnyRequest, JsonData, PatchData, UuidPath, body_of, query_of
from service.web.responses import error_responses, success
from service.webhooks.representation import (
    COLLECTION_IRI,
    ENDPOINT,
    EndpointView,
    EndpointWithSecret,
    ReplayResult,
    endpoint_fields,
    endpoint_iri,
)
from service.webhooks.schema import EndpointCreate, EndpointPatch, ReplayRequest
from service.webhooks.usecases import Webhooks

ITEM = "/{endpoint_id:uuid}"
Store = NamedDependency[Webhooks]
_CREATING = (
    "The answer holds the signing secret `whsec_…`, shown only this once. The URL is never fetched here; "
    "it must be https on a public address."
)
_PATCHING = "JSON merge patch. `enabled: true` re-enables an endpoint the service disabled."
_REMOVING = "Its pending deliveries are dropped."
OPERATION = linked_data_operation(ENDPOINT)
ENDPOINTS_OPERATION = linked_data_operation(ENDPOINT, page_parameters())
_AT = "/api/webhook_endpoints/{endpoint_id}"
CREATE_OPERATION = with_item_links(
    OPERATION,
    {
        "GetWebhookEndpoint": (_AT, "get", "endpoint_id"),
        "UpdateWebhookEndpoint": (_AT, "patch", "endpoint_id"),
        "RemoveWebhookEndpoint": (_AT, "delete", "endpoint_id"),
        "GetWebhookDeliveries": (f"{_AT}/deliveries", "get", "endpoint_id"),
        "ReplayWebhookEvents": (f"{_AT}/replay", "post", "endpoint_id"),
        "RotateWebhookSecret": (f"{_AT}/rotate_secret", "post", "endpoint_id"),
    },
)


def _item(request: AnyRequest, row: Any, secret: str | None = None, status: int = 200) -> Response[bytes]:
    fmt = negotiate(request.headers.get("accept"))
    iri = endpoint_iri(row)
    headers = {"Location": iri} if status == 201 else {}
    if secret is not None:
        headers |= NO_STORE  # the secret is shown once: no cache may keep it
    return hydra.respond(fmt, hydra.item(fmt, ENDPOINT, iri, endpoint_fields(row, secret)), status, headers)


class WebhookEndpointController(TenantController):
    path = COLLECTION_IRI
    tags = ["WebhookEndpoint"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", opt=READERS, **read_collection(ENDPOINT, list[EndpointView], ENDPOINTS_OPERATION, None))
    async def collection(self, request: AnyRequest, webhooks: Store, principal: Caller) -> Response[bytes]:
        fmt, query = negotiate(request.headers.get("accept")), query_of(request)
        page = parse_page(query)
        total, rows = await webhooks.list_endpoints(principal, page)
        members = [hydra.member(fmt, ENDPOINT, endpoint_iri(r), endpoint_fields(r)) for r in rows]
        view = page_view(COLLECTION_IRI, query, page, total)
        return hydra.respond(
            fmt, hydra.collection(fmt, ENDPOINT, COLLECTION_IRI, members, total=total, view=view)
        )

    @post(
        "/",
        opt=WRITERS,
        **create_item(ENDPOINT, EndpointCreate, EndpointWithSecret, CREATE_OPERATION, _CREATING),
    )
    async def create(
        self, request: AnyRequest, webhooks: Store, principal: Caller, data: JsonData[EndpointCreate] = None,
    ) -> Response[bytes]:
        body = body_of(request, data, EndpointCreate, JSON_TYPES)
        row, secret = await webhooks.create(principal, body)
        return _item(request, row, secret, 201)

    @get(ITEM, opt=READERS, **read_item(ENDPOINT, EndpointView, OPERATION))
    async def show(
        self, request: AnyRequest, endpoint_id: UuidPath, webhooks: Store, principal: Caller,
    ) -> Response[bytes]:
        return _item(request, await webhooks.get(principal, endpoint_id))

    @patch(ITEM, opt=WRITERS, **update_item(ENDPOINT, EndpointPatch, EndpointView, OPERATION, _PATCHING))
    async def update(
        self, request: AnyRequest, endpoint_id: UuidPath, webhooks: Store, principal: Caller,
        data: PatchData[EndpointPatch] = None,
    ) -> Response[bytes]:
        body = body_of(request, data, EndpointPatch, MERGE_PATCH)
        return _item(request, await webhooks.update(principal, endpoint_id, body))

    @delete(ITEM, opt=WRITERS, **remove_item(ENDPOINT, OPERATION, _REMOVING, (401, 403, 404)))
    async def remove(self, endpoint_id: UuidPath, webhooks: Store, principal: Caller) -> None:
        await webhooks.delete(principal, endpoint_id)

    @post(
        f"{ITEM}/rotate_secret",
        opt=WRITERS,
        status_code=200,
        summary="Rotates the signing secret.",
        description="Answers the new secret once; the old one keeps signing (a second signature in "
        "`webhook-signature`) until `previousSecretExpiresAt`.",
        operation_class=OPERATION,
        responses={
            200: success(EndpointWithSecret, "WebhookEndpoint with its new secret"),
            **error_responses(401, 403, 404, 406),
        },
    )
    async def rotate(
        self, request: AnyRequest, endpoint_id: UuidPath, webhooks: Store, principal: Caller,
    ) -> Response[bytes]:
        row, secret = await webhooks.rotate(principal, endpoint_id)
        return _item(request, row, secret)

    @post(
        f"{ITEM}/replay",
        opt=WRITERS,
        status_code=202,
        dto=JsonBody[ReplayRequest],
        return_dto=None,
        summary="Sends the organization's events since a moment again.",
        description="Every kept event since `since` that the endpoint's filters select is put in line "
        "again (same `webhook-id`, so receivers drop what they already have).",
        responses={
            202: success(ReplayResult, "Deliveries put in line"),
            **error_responses(400, 401, 403, 404, 406, 415),
        },
    )
    async def replay(
        self, request: AnyRequest, endpoint_id: UuidPath, webhooks: Store, principal: Caller,
        data: JsonData[ReplayRequest] = None,
    ) -> Response[bytes]:
        body = body_of(request, data, ReplayRequest, JSON_TYPES)
        added = await webhooks.replay(principal, endpoint_id, body.since)
        negotiate(request.headers.get("accept"))
        return hydra.respond(negotiate("application/json"), {"deliveries": added}, 202)
