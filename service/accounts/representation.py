"""The account read shape, built straight from a database row (plain JSON; JSON-LD wraps it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from service.integrations.catalog import IRI_PREFIX as INTEGRATION_IRI_PREFIX
from service.web.iri import client_iri
from service.web.resource import timestamp

RESOURCE = "Account"
COLLECTION_IRI = "/api/accounts"
IRI_PREFIX = "/api/accounts/"

# API field name → column, in the order changes are listed in events.
CHANGEABLE = {
    "name": "name",
    "headline": "headline",
    "avatar": "avatar",
    "externalId": "external_id",
    "settings": "settings",
    "metadata": "metadata",
    "credentials": "credentials",
    "status": "status",
    "statusReason": "status_reason",
}


def iri(account_id: UUID | str) -> str:
    return f"{IRI_PREFIX}{account_id}"


def etag(version: int) -> str:
    return f'W/"{version}"'


def fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The plain-JSON read shape: what responses show and what events carry. Never credentials."""
    return {
        "id": row["id"],
        "name": row["name"],
        "headline": row["headline"],
        "avatar": row["avatar"],
        "provider": row["provider"],
        "type": row["type"],
        "integration": INTEGRATION_IRI_PREFIX + row["integration"],
        "externalId": row["external_id"],
        "client": client_iri(row["client_id"]),
        "status": row["status"],
        "statusReason": row["status_reason"],
        "settings": row["settings"],
        "metadata": row["metadata"],
        "version": row["version"],
        "createdAt": timestamp(row["created_at"]),
        "updatedAt": timestamp(row["updated_at"]),
    }


def snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    """The read shape with the id as text, ready to be stored as JSON (outbox, idempotency replay)."""
    document = fields(row)
    document["id"] = str(document["id"])
    return document


def event_payload(values: Mapping[str, Any]) -> dict[str, Any]:
    """An event's payload (the account's read shape) from the values written; the statement adds what
    the database assigns: version and timestamps."""
    return snapshot({"created_at": None, **values, "version": None, "updated_at": None})
