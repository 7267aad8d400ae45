"""The OpenAPI `webhooks` section: what an endpoint receives, one entry per event type."""

from __future__ import annotations

from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)

from service.events.schema import AccountChange
from service.webhooks.message import CONTENT_TYPE
from service.webhooks.schema import EVENT_TYPES

_HEADERS = {
    "webhook-id": "The event id (CloudEvents `id`); the same on every attempt and replay: deduplicate on it",
    "webhook-timestamp": "Unix seconds of this attempt; refuse it when far from now (replays)",
    "webhook-signature": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>` under the endpoint's `whsec_` "
    "secret; during a rotation a second, space-separated signature under the previous secret",
}
_SNAPSHOT_FIELDS = [name for name in AccountChange.__struct_encode_fields__ if name != "changes"]


def _string(description: str | None = None) -> Schema:
    return Schema(type=OpenAPIType.STRING, description=description)


def _event_schema(event_type: str) -> Schema:
    updated = event_type == "account.updated"
    fields: dict[str, Schema | Reference] = {
        name: Schema(description=f"As in the Account read shape: `{name}`") for name in _SNAPSHOT_FIELDS
    }
    if updated:
        fields["changes"] = Schema(type=OpenAPIType.ARRAY, items=_string(), description="Changed field names")
    data = Schema(
        type=OpenAPIType.OBJECT,
        description="The account as `GET /api/accounts/{id}` shows it in plain JSON (never credentials)",
        properties=fields,
        required=["id", "version", "status", "client"],
    )
    return Schema(
        type=OpenAPIType.OBJECT,
        description="A CloudEvents 1.0 event in structured JSON mode",
        properties={
            "specversion": Schema(type=OpenAPIType.STRING, const="1.0"),
            "id": _string("Event id, also the `webhook-id` header"),
            "source": Schema(type=OpenAPIType.STRING, const="/accounts-service"),
            "type": Schema(type=OpenAPIType.STRING, const=event_type),
            "subject": _string("Account id"),
            "time": _string("Commit time of the change (RFC 3339)"),
            "datacontenttype": Schema(type=OpenAPIType.STRING, const="application/json"),
            "partitionkey": _string("Account id"),
            "organization": _string("Organization id"),
            "client": _string("Client id"),
            "accountversion": Schema(
                type=OpenAPIType.INTEGER, description="Ignore an event not above the last version applied"
            ),
            "data": data,
        },
        required=["specversion", "id", "source", "type", "subject", "time", "accountversion", "data"],
    )


def webhooks_section() -> dict[str, PathItem]:
    """`webhooks` of the OpenAPI document: POSTs an endpoint receives, with their headers and answers."""
    parameters = [
        Parameter(name=name, param_in=ParamType.HEADER, required=True, description=text, schema=_string())
        for name, text in _HEADERS.items()
    ]
    responses = {
        "2XX": OpenAPIResponse(description="Received; the next event of the same account may follow"),
        "410": OpenAPIResponse(description="Gone: the endpoint is disabled and receives nothing more"),
        "default": OpenAPIResponse(
            description="Anything else (or no answer within the timeout) is retried with back-off; "
            "`Retry-After` is honoured; redirects are not followed"
        ),
    }
    return {
        event_type: PathItem(
            post=Operation(
                summary=f"{event_type}, delivered to a webhook endpoint",
                description="Signed as Standard Webhooks specify; an account's events arrive in order, "
                "each after the previous one was acknowledged or given up.",
                operation_id=f"webhook_{event_type.replace('.', '_')}",
                parameters=list(parameters),
                request_body=RequestBody(
                    required=True, content={CONTENT_TYPE: OpenAPIMediaType(schema=_event_schema(event_type))}
                ),
                responses=dict(responses),
                tags=["WebhookEndpoint"],
            )
        )
        for event_type in EVENT_TYPES
    }
