"""Read shapes of webhook endpoints and their deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from service.web.iri import client_iri
from service.web.resource import timestamp

ENDPOINT = "WebhookEndpoint"
DELIVERY = "WebhookDelivery"
COLLECTION_IRI = "/api/webhook_endpoints"
_decode_history = msgspec.json.Decoder(list[dict[str, Any]]).decode


class EndpointView(msgspec.Struct, rename="camel"):
    """The read shape, for the OpenAPI document."""

    id: Annotated[str, msgspec.Meta(description="Endpoint identifier (UUID)")]
    url: str
    description: str | None
    events: Annotated[list[str], msgspec.Meta(description="Event types sent, or `*` for all")]
    clients: Annotated[list[str] | None, msgspec.Meta(description="Client IRIs; null: every client")]
    enabled: bool
    disabled_reason: Annotated[str | None, msgspec.Meta(description="Why the service disabled it")]
    disabled_at: datetime | None
    failing_since: Annotated[
        datetime | None, msgspec.Meta(description="Start of the current run of failures")
    ]
    previous_secret_expires_at: Annotated[
        datetime | None, msgspec.Meta(description="Until then the secret before the last rotation signs too")
    ]
    created_at: datetime
    updated_at: datetime | None


class EndpointWithSecret(EndpointView, rename="camel"):
    secret: Annotated[str, msgspec.Meta(description="The signing secret `whsec_…`, shown only this once")]


class AttemptView(msgspec.Struct, rename="camel"):
    at: datetime
    status: int | None
    latency_ms: float | None
    error: str | None


class DeliveryView(msgspec.Struct, rename="camel"):
    id: str
    endpoint: Annotated[str, msgspec.Meta(description="Endpoint IRI")]
    event: Annotated[str, msgspec.Meta(description="Event id: the `webhook-id` header")]
    type: str
    account: Annotated[str, msgspec.Meta(description="Account IRI")]
    account_version: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: float | None
    last_attempt_at: datetime | None
    next_attempt_at: Annotated[datetime | None, msgspec.Meta(description="Null unless pending")]
    delivered_at: datetime | None
    created_at: datetime
    history: list[AttemptView]


class ReplayResult(msgspec.Struct):
    deliveries: Annotated[int, msgspec.Meta(description="Deliveries put in line")]


def endpoint_iri(row: Mapping[str, Any]) -> str:
    return f"{COLLECTION_IRI}/{row['id']}"


def endpoint_fields(row: Mapping[str, Any], secret: str | None = None) -> dict[str, Any]:
    expires: datetime | None = row["previous_secret_expires_at"]
    fields = {
        "id": str(row["id"]),
        "url": row["url"],
        "description": row["description"],
        "events": list(row["event_types"]),
        "clients": None if row["client_ids"] is None else [client_iri(c) for c in row["client_ids"]],
        "enabled": row["enabled"],
        "disabledReason": row["disabled_reason"],
        "disabledAt": timestamp(row["disabled_at"]),
        "failingSince": timestamp(row["failing_since"]),
        "previousSecretExpiresAt": timestamp(expires) if expires and expires > datetime.now(UTC) else None,
        "createdAt": timestamp(row["created_at"]),
        "updatedAt": timestamp(row["updated_at"]),
    }
    if secret is not None:
        fields["secret"] = secret
    return fields


def delivery_iri(row: Mapping[str, Any]) -> str:
    return f"{COLLECTION_IRI}/{row['endpoint_id']}/deliveries/{row['id']}"


def delivery_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    pending = row["state"] == "pending"
    return {
        "id": str(row["id"]),
        "endpoint": f"{COLLECTION_IRI}/{row['endpoint_id']}",
        "event": str(row["event_id"]),
        "type": row["event_type"],
        "account": f"/api/accounts/{row['account_id']}",
        "accountVersion": row["account_version"],
        "status": row["state"],
        "attempts": row["attempts"],
        "lastStatusCode": row["last_status"],
        "lastError": row["last_error"],
        "lastLatencyMs": row["last_latency_ms"],
        "lastAttemptAt": timestamp(row["last_attempt_at"]),
        "nextAttemptAt": timestamp(row["next_attempt_at"]) if pending else None,
        "deliveredAt": timestamp(row["delivered_at"]),
        "createdAt": timestamp(row["created_at"]),
        "history": _decode_history(row["history"]),
    }
