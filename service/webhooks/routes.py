"""`/api/webhook_endpoints`: the organization's webhook endpoints and their deliveries (owners write)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import ParamType
from litestar.openapi.spec import OpenAPIType, Parameter, Schema
from litestar.params import Body, FromPath

from service.auth.guards import requires
from service.auth.principal import Principal, Role
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
)
from service.web.pagination import page_view, parse_page
from service.webhooks.representation import (
    COLLECTION_IRI,
    DELIVERY,
    ENDPOINT,
    DeliveryView,
    EndpointView,
    EndpointWithSecret,
    ReplayResult,
    delivery_fields,
    delivery_iri,
    endpoint_fields,
    endpoint_iri,
)
from service.webhooks.schema import EndpointCreate, EndpointPatch, ReplayRequest
from service.webhooks.usecases import DELIVERY_STATES, Webhooks

AnyRequest = Request[Any, Any, Any]
READERS = requires(Role.OWNER, Role.VIEWER)
WRITERS = requires(Role.OWNER)
SECURITY: list[dict[str, list[str]]] = [{"JWT": []}, {"ApiKey": []}]
ITEM = "/{endpoint_id:uuid}"
_LOCATION = ResponseHeader(name="Location", documentation_only=True)
_STATUS = Parameter(
    name="status",
    param_in=ParamType.QUERY,
    required=False,
    description="Only deliveries in this state",
    schema=Schema(type=OpenAPIType.STRING, enum=list(DELIVERY_STATES)),
)
ENDPOINT_OPERATION = linked_data_operation(ENDPOINT)
ENDPOINTS_OPERATION = linked_data_operation(ENDPOINT, page_parameters())
DELIVERY_OPERATION = linked_data_operation(DELIVERY)
DELIVERIES_OPERATION = linked_data_operation(DELIVERY, (*page_parameters(), _STATUS))


def _query(request: AnyRequest) -> dict[str, list[str]]:
    query = {key: request.query_params.getall(key) for key in request.query_params}
    if any("\x00" in value for values in query.values() for value in values):
        raise BadRequest("Query parameters must not contain NUL characters.")
    return query


def _item(request: AnyRequest, row: Any, secret: str | None = None, status: int = 200) -> Response[bytes]:
    fmt = negotiate(request.headers.get("accept"))
    iri = endpoint_iri(row)
    headers = {"Location": iri} if status == 201 else None
    return hydra.respond(fmt, hydra.item(fmt, ENDPOINT, iri, endpoint_fields(row, secret)), status, headers)


def _delivery(request: AnyRequest, row: Any, status: int = 200) -> Response[bytes]:
    fmt = negotiate(request.headers.get("accept"))
    return hydra.respond(fmt, hydra.item(fmt, DELIVERY, delivery_iri(row), delivery_fields(row)), status)


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
        fmt, query = negotiate(request.headers.get("accept")), _query(request)
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
        operation_class=ENDPOINT_OPERATION,
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
        body = (
            data
            if data is not None
            else decode(b"", EndpointCreate, request.headers.get("content-type"), JSON_TYPES)
        )
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
        body = (
            data
            if data is not None
            else decode(b"", EndpointPatch, request.headers.get("content-type"), MERGE_PATCH)
        )
        return _item(request, await webhooks.update(principal, endpoint_id, body))

    @delete(
        ITEM,
        opt=WRITERS,
        summary="Removes the WebhookEndpoint resource.",
        description="Its pending deliveries are dropped.",
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

    @get(
        f"{ITEM}/deliveries",
        opt=READERS,
        summary="Retrieves the endpoint's deliveries, newest first.",
        operation_class=DELIVERIES_OPERATION,
        responses={
            200: success(list[DeliveryView], "WebhookDelivery collection"),
            **error_responses(400, 401, 403, 404, 406),
        },
    )
    async def deliveries(
        self,
        request: AnyRequest,
        endpoint_id: FromPath[uuid.UUID],
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        fmt, query = negotiate(request.headers.get("accept")), _query(request)
        page = parse_page(query)
        states = query.get("status") or []
        if len(states) > 1:
            raise BadRequest('Query parameter "status" must be given once.')
        total, rows = await webhooks.deliveries(principal, endpoint_id, states[0] if states else None, page)
        iri = f"{COLLECTION_IRI}/{endpoint_id}/deliveries"
        members = [hydra.member(fmt, DELIVERY, delivery_iri(r), delivery_fields(r)) for r in rows]
        view = page_view(iri, query, page, total)
        return hydra.respond(fmt, hydra.collection(fmt, DELIVERY, iri, members, total=total, view=view))

    @get(
        f"{ITEM}/deliveries/{{delivery_id:uuid}}",
        opt=READERS,
        summary="Retrieves a WebhookDelivery resource.",
        operation_class=DELIVERY_OPERATION,
        responses={
            200: success(DeliveryView, "WebhookDelivery resource"),
            **error_responses(401, 403, 404, 406),
        },
    )
    async def delivery(
        self,
        request: AnyRequest,
        endpoint_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        return _delivery(request, await webhooks.delivery(principal, endpoint_id, delivery_id))

    @post(
        f"{ITEM}/deliveries/{{delivery_id:uuid}}/retry",
        opt=WRITERS,
        status_code=202,
        summary="Sends the delivery again now, with a fresh retry schedule.",
        operation_class=DELIVERY_OPERATION,
        responses={
            202: success(DeliveryView, "WebhookDelivery back in line"),
            **error_responses(401, 403, 404, 406),
        },
    )
    async def retry(
        self,
        request: AnyRequest,
        endpoint_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        webhooks: NamedDependency[Webhooks],
        principal: NamedDependency[Principal],
    ) -> Response[bytes]:
        return _delivery(request, await webhooks.retry(principal, endpoint_id, delivery_id), 202)

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
        body = (
            data
            if data is not None
            else decode(b"", ReplayRequest, request.headers.get("content-type"), JSON_TYPES)
        )
        added = await webhooks.replay(principal, endpoint_id, body.since)
        negotiate(request.headers.get("accept"))
        return hydra.respond(negotiate("application/json"), {"deliveries": added}, 202)
