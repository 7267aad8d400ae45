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

# Binary content mode names the data's media type `content-type`, every other attribute `ce_<name>`.
_HEADER_OF = {("datacontenttype" if h == "content-type" else h.removeprefix("ce_")): h for h in HEADERS}
_encode = msgspec.json.Encoder().encode
_READ_ORDER = AccountChange.__struct_encode_fields__


class KafkaRecord(NamedTuple):
    """What is handed to the producer: key, value (None is a tombstone) and headers."""

    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]]


def headers(event: OutboxEvent) -> list[tuple[str, bytes]]:
    """The CloudEvents attributes and extensions of an event, as Kafka headers."""
    values = _attributes(event)
    return [(header, str(values[name]).encode()) for name, header in _HEADER_OF.items()]


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
    return _encode(_attributes(event) | {"data": _in_read_order(event.payload)})


def _attributes(event: OutboxEvent) -> dict[str, Any]:
    """The attributes and extensions by their JSON names, in the order they are written."""
    account = str(event.account_id)
    return {
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
    }


def _in_read_order(payload: dict[str, Any]) -> dict[str, Any]:
    # jsonb keeps keys sorted by length; people reading the topics expect the REST API's order.
    ordered = {name: payload[name] for name in _READ_ORDER if name in payload}
    return ordered | {name: value for name, value in payload.items() if name not in ordered}


def record_at(record: Any, error: str) -> dict[str, Any]:
    """The log fields naming a Kafka record that could not be read, and why."""
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset, "error": error}
