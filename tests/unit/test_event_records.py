"""An outbox event as Kafka records: key, CloudEvents headers, value, and the state topic's tombstone."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from service.events.cloudevents import HEADERS, history_record, state_record
from service.events.store import OutboxEvent

ACCOUNT = uuid.UUID("e6a2e786-2ce0-444a-b08c-ca21ed816bf0")
ORGANIZATION = uuid.UUID("0b6b0a8e-7f21-4e0e-9d0a-2b8c2f6f4c11")
CLIENT = uuid.UUID("3f0b7c7e-8a51-4d5e-9a56-5b8e6f1f2a10")
SNAPSHOT = {"id": str(ACCOUNT), "name": "Michael Scott", "status": "connected", "version": 4}


def event(event_type: str, payload: dict[str, object]) -> OutboxEvent:
    return OutboxEvent(
        position=17,
        event_id=uuid.UUID("5d2b1c7a-9d7e-4a55-8c9e-0f1e2d3c4b5a"),
        event_type=event_type,
        account_id=ACCOUNT,
        organization_id=ORGANIZATION,
        client_id=CLIENT,
        account_version=4,
        payload=payload,
        created_at=datetime(2025, 3, 27, 15, 0, 49, 123000, tzinfo=UTC),
    )


def test_history_record_carries_every_cloudevents_header_and_the_payload() -> None:
    record = history_record(event("account.updated", SNAPSHOT | {"changes": ["status"]}))
    assert record.key == str(ACCOUNT).encode()
    assert [name for name, _ in record.headers] == list(HEADERS)
    assert {name: value.decode() for name, value in record.headers} == {
        "ce_specversion": "1.0",
        "ce_id": "5d2b1c7a-9d7e-4a55-8c9e-0f1e2d3c4b5a",
        "ce_source": "/accounts-service",
        "ce_type": "account.updated",
        "ce_subject": str(ACCOUNT),
        "ce_time": "2025-03-27T15:00:49.123000+00:00",
        "content-type": "application/json",
        "ce_partitionkey": str(ACCOUNT),
        "ce_organization": str(ORGANIZATION),
        "ce_client": str(CLIENT),
        "ce_accountversion": "4",
    }
    assert record.value is not None
    assert json.loads(record.value) == SNAPSHOT | {"changes": ["status"]}


def test_state_record_is_the_snapshot_without_changes() -> None:
    record = state_record(event("account.updated", SNAPSHOT | {"changes": ["status"]}))
    assert record.value is not None and json.loads(record.value) == SNAPSHOT
    assert record.headers == history_record(event("account.updated", SNAPSHOT)).headers


def test_removal_is_a_tombstone_on_the_state_topic_and_the_last_snapshot_in_history() -> None:
    removed = event("account.removed", SNAPSHOT)
    tombstone = state_record(removed)
    assert (tombstone.key, tombstone.value) == (str(ACCOUNT).encode(), None)
    assert [name for name, _ in tombstone.headers] == [h for h in HEADERS if h != "content-type"]
    history = history_record(removed)
    assert history.value is not None and json.loads(history.value) == SNAPSHOT


def test_values_list_fields_in_the_read_shapes_order_whatever_order_the_row_kept() -> None:
    jsonb_order = {"id": "a", "name": "n", "type": "t", "status": "s", "changes": ["name"], "version": 4}
    record = history_record(event("account.updated", jsonb_order))
    assert record.value is not None
    assert list(json.loads(record.value)) == ["id", "name", "type", "status", "version", "changes"]
