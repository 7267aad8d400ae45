"""`/api/webhook_endpoints/{id}/deliveries`: what was sent to an endpoint, and sending it again."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.enums import ParamType
from litestar.openapi.spec import OpenAPIType, Parameter, Schema

from service.auth.guards import TENANT_READERS as READERS
from service.auth.guards import TENANT_WRITERS as WRITERS
from service.auth.guards import Caller, TenantController
from service.web import hydra
from service.web.formats import negotiate
from service.web.openapi import linked_data_operation, page_parameters
from service.web.operations import read_item
from service.web.pagination import page_view, parse_page
from service.web.resource import AnyRequest, UuidPath, query_of, single
from service.web.responses import error_responses, success
from service.webhooks.representation import (
    COLLECTION_IRI,
    DELIVERY,
    DeliveryView,
    delivery_fields,
    delivery_iri,
)
from service.webhooks.routes import Store
from service.webhooks.usecases import DELIVERY_STATES

ITEM = "/{delivery_id:uuid}"
_STATUS = Parameter(
    name="status",
    param_in=ParamType.QUERY,
    required=False,
    description="Only deliveries in this state",
    schema=Schema(type=OpenAPIType.STRING, enum=list(DELIVERY_STATES)),
)
DELIVERY_OPERATION = linked_data_operation(DELIVERY)
DELIVERIES_OPERATION = linked_data_operation(DELIVERY, (*page_parameters(), _STATUS))


def _delivery(request: AnyRequest, row: Any, status: int = 200) -> Response[bytes]:
    fmt = negotiate(request.headers.get("accept"))
    return hydra.respond(fmt, hydra.item(fmt, DELIVERY, delivery_iri(row), delivery_fields(row)), status)


class WebhookDeliveryController(TenantController):
    path = f"{COLLECTION_IRI}/{{endpoint_id:uuid}}/deliveries"
    tags = ["WebhookEndpoint"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get(
        "/",
        opt=READERS,
        summary="Retrieves the endpoint's deliveries, newest first.",
        operation_class=DELIVERIES_OPERATION,
        responses={
            200: success(list[DeliveryView], "WebhookDelivery collection"),
            **error_responses(400, 401, 403, 404, 406),
        },
    )
    async def deliveries(
        self, request: AnyRequest, endpoint_id: UuidPath, webhooks: Store, principal: Caller,
    ) -> Response[bytes]:
        fmt, query = negotiate(request.headers.get("accept")), query_of(request)
        page = parse_page(query)
        total, rows = await webhooks.deliveries(principal, endpoint_id, single(query, "status"), page)
        iri = f"{COLLECTION_IRI}/{endpoint_id}/deliveries"
        members = [hydra.member(fmt, DELIVERY, delivery_iri(r), delivery_fields(r)) for r in rows]
        view = page_view(iri, query, page, total)
        return hydra.respond(fmt, hydra.collection(fmt, DELIVERY, iri, members, total=total, view=view))

    @get(ITEM, opt=READERS, **read_item(DELIVERY, DeliveryView, DELIVERY_OPERATION))
    async def delivery(
        self, request: AnyRequest, endpoint_id: UuidPath, delivery_id: UuidPath, webhooks: Store,
        principal: Caller,
    ) -> Response[bytes]:
        return _delivery(request, await webhooks.delivery(principal, endpoint_id, delivery_id))

    @post(
        f"{ITEM}/retry",
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
        self, request: AnyRequest, endpoint_id: UuidPath, delivery_id: UuidPath, webhooks: Store,
        principal: Caller,
    ) -> Response[bytes]:
        return _delivery(request, await webhooks.retry(principal, endpoint_id, delivery_id), 202)
