"""An outbox event as Kafka records in CloudEvents 1.0 binary content mode."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from service.events.schema import AccountChange
from service.events.store import OutboxEvent

SPEC_VERSION = "1.0"
SOURCE = "/accounts-service"
CONTENT_TYPE = "application/json"
REMOVED = "account.removed"
# Every header an event carries, in the order it is written; a tombstone carries all but content-type.
HEADERS = (
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_subject",
    "ce_time",
    "content-type",
    "ce_partitionkey",
    "ce_organization",
    "ce_client",
    "ce_accountversion",
)

_encode = msgspec.json.Encoder().encode
_READ_ORDER = AccountChange.__struct_encode_fields__


class KafkaRecord(NamedTuple):
    """What is handed to the producer: key, value (None is a tombstone) and headers."""

    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]]


def headers(event: OutboxEvent, *, with_content: bool = True) -> list[tuple[str, bytes]]:
    """The CloudEvents attributes and extensions of an event, as Kafka headers."""
    account = str(event.account_id)
    values = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": str(event.event_id),
        "ce_source": SOURCE,
        "ce_type": event.event_type,
        "ce_subject": account,
        "ce_time": event.created_at.isoformat(),
        "content-type": CONTENT_TYPE,
        "ce_partitionkey": account,
        "ce_organization": str(event.organization_id),
        "ce_client": str(event.client_id),
        "ce_accountversion": str(event.account_version),
    }
    return [(name, values[name].encode()) for name in HEADERS if with_content or name != "content-type"]


def history_record(event: OutboxEvent) -> KafkaRecord:
    """The record for the history topic: every event with its snapshot (and `changes` on updates)."""
    return records(event)[0]


def state_record(event: OutboxEvent) -> KafkaRecord:
    """The record for the compacted topic: the latest snapshot, or a tombstone once removed."""
    return records(event)[1]


def records(event: OutboxEvent) -> tuple[KafkaRecord, KafkaRecord]:
    """The history record and the state record of one event, sharing their key and headers."""
    key = str(event.account_id).encode()
    attributes = headers(event)
    ordered = _in_read_order(event.payload)
    history = KafkaRecord(key, _encode(ordered), attributes)
    if event.event_type == REMOVED:
        return history, KafkaRecord(key, None, [pair for pair in attributes if pair[0] != "content-type"])
    if "changes" in ordered:
        ordered = {name: value for name, value in ordered.items() if name != "changes"}
        return history, KafkaRecord(key, _encode(ordered), attributes)
    return history, KafkaRecord(key, history.value, attributes)


def structured(event: OutboxEvent) -> bytes:
    """The event as one CloudEvents JSON document (structured content mode), the body of a webhook."""
    account = str(event.account_id)
    document = {
        "specversion": SPEC_VERSION,
        "id": str(event.event_id),
        "source": SOURCE,
        "type": event.event_type,
        "subject": account,
        "time": event.created_at.isoformat(),
        "datacontenttype": CONTENT_TYPE,
        "partitionkey": account,
        "organization": str(event.organization_id),
        "client": str(event.client_id),
        "accountversion": event.account_version,
        "data": _in_read_order(event.payload),
    }
    return _encode(document)


def _in_read_order(payload: dict[str, Any]) -> dict[str, Any]:
    # jsonb keeps keys sorted by length; people reading the topics expect the REST API's order.
    ordered = {name: payload[name] for name in _READ_ORDER if name in payload}
    return ordered | {name: value for name, value in payload.items() if name not in ordered}
