"""`/api/webhook_endpoints`: the organization's webhook endpoints and their deliveries (owners write)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import Body, FromPath

from service.auth.guards import requires
from service.auth.principal import Principal, Role
from service.web import hydra
from service.web.bodies import JSON_TYPES, MERGE_PATCH
from service.web.formats import negotiate
from service.web.headers import NO_STORE
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
from service.web.resource import empty_body, query_of
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

AnyRequest = Request[Any, Any, Any]
READERS = requires(Role.OWNER, Role.VIEWER)
WRITERS = requires(Role.OWNER)
SECURITY: list[dict[str, list[str]]] = [{"JWT": []}, {"ApiKey": []}]
ITEM = "/{endpoint_id:uuid}"
_LOCATION = ResponseHeader(name="Location", documentation_only=True)
ENDPOINT_OPERATION = linked_data_operation(ENDPOINT)
ENDPOINTS_OPERATION = linked_data_operation(ENDPOINT, page_parameters())
_AT = "/api/webhook_endpoints/{endpoint_id}"
CREATE_OPERATION = with_item_links(
    ENDPOINT_OPERATION,
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


class WebhookEndpointController(Controller):
    path = COLLECTION_IRI
    tags = ["WebhookEndpoint"]  # noqa: RUF012 - Litestar reads it as a class attribute
    security = SECURITY

    @get(
        "/",
        opt=READERS,
        summary="Retrieves the collection of WebhookEndpoint resources.",
        operation_class=ENDPOINTS_OPERATION,
        responses={
            200: success(list[EndpointView], "WebhookEndpoint collection"),
            **error_responses(400, 401, 403, 406),
        },
    )
    async def collection(
        self, request: AnyRequest, webhooks: NamedDependency[Webhooks], principal: NamedDependency[Principal]
    ) -> Response[bytes]:
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
        dto=JsonBody[EndpointCreate],
        return_dto=None,
        summary="Creates a WebhookEndpoint resource.",
        description="The answer holds the signing secret `whsec_…`, shown only this once. The URL is "
        "never fetched here; it must be https on a public address.",
        operation_class=CREATE_OPERATION,
        response_headers=[_LOCATION],
        responses={
            201: success(EndpointWithSecret, "WebhookEndpoint resource created"),
            **error_responses(400, 401, 403, 406, 415, 422),
        },
    )
    async def create(
        self,
        request: AnyRequest,
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
        data: Annotated[EndpointCreate | None, Body()] = None,
    ) -> Response[bytes]:
        body = data if data is not None else empty_body(request, EndpointCreate, JSON_TYPES)
        row, secret = await webhooks.create(principal, body)
        return _item(request, row, secret, 201)

    @get(
        ITEM,
        opt=READERS,
        summary="Retrieves a WebhookEndpoint resource.",
        operation_class=ENDPOINT_OPERATION,
        responses={
            200: success(EndpointView, "WebhookEndpoint resource"),
            **error_responses(401, 403, 404, 406),
        },
    )
    async def show(
        self,
        request: AnyRequest,
        endpoint_id: FromPath[uuid.UUID],
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        return _item(request, await webhooks.get(principal, endpoint_id))

    @patch(
        ITEM,
        opt=WRITERS,
        dto=MergePatchBody[EndpointPatch],
        return_dto=None,
        summary="Updates the WebhookEndpoint resource.",
        description="JSON merge patch. `enabled: true` re-enables an endpoint the service disabled.",
        operation_class=ENDPOINT_OPERATION,
        responses={
            200: success(EndpointView, "WebhookEndpoint resource updated"),
            **error_responses(400, 401, 403, 404, 406, 415, 422),
        },
    )
    async def update(
        self,
        request: AnyRequest,
        endpoint_id: FromPath[uuid.UUID],
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
        data: Annotated[EndpointPatch | None, Body(media_type=MERGE_PATCH[0])] = None,
    ) -> Response[bytes]:
        body = data if data is not None else empty_body(request, EndpointPatch, MERGE_PATCH)
        return _item(request, await webhooks.update(principal, endpoint_id, body))

    @delete(
        ITEM,
        opt=WRITERS,
        summary="Removes the WebhookEndpoint resource.",
        description="Its pending deliveries are dropped.",
        operation_class=ENDPOINT_OPERATION,
        responses=error_responses(401, 403, 404),
    )
    async def remove(
        self,
        endpoint_id: FromPath[uuid.UUID],
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
    ) -> None:
        await webhooks.delete(principal, endpoint_id)

    @post(
        f"{ITEM}/rotate_secret",
        opt=WRITERS,
        status_code=200,
        summary="Rotates the signing secret.",
        description="Answers the new secret once; the old one keeps signing (a second signature in "
        "`webhook-signature`) until `previousSecretExpiresAt`.",
        operation_class=ENDPOINT_OPERATION,
        responses={
            200: success(EndpointWithSecret, "WebhookEndpoint with its new secret"),
            **error_responses(401, 403, 404, 406),
        },
    )
    async def rotate(
        self,
        request: AnyRequest,
        endpoint_id: FromPath[uuid.UUID],
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
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
        self,
        request: AnyRequest,
        endpoint_id: FromPath[uuid.UUID],
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
        data: Annotated[ReplayRequest | None, Body()] = None,
    ) -> Response[bytes]:
        body = data if data is not None else empty_body(request, ReplayRequest, JSON_TYPES)
        added = await webhooks.replay(principal, endpoint_id, body.since)
        negotiate(request.headers.get("accept"))
        return hydra.respond(negotiate("application/json"), {"deliveries": added}, 202)
