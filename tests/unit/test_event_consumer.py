"""The consumer helper's bookkeeping: which events are new, and how records are read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from service.events.cloudevents import history_record, state_record
from service.events.consumer import MemoryState, NotAnAccountEvent, is_new, parse_record
from service.events.store import OutboxEvent
from service.events.worker_example import Inbox

ACCOUNT = uuid.uuid4()


def outbox_event(version: int, event_type: str = "account.updated", status: str = "connected") -> OutboxEvent:
    payload = {
        "id": str(ACCOUNT),
        "name": "Michael Scott",
        "provider": "whatsapp",
        "type": "whatsapp",
        "integration": "/api/integrations/whatsapp",
        "externalId": "+15555550100",
        "client": "/api/clients/3f0b7c7e-8a51-4d5e-9a56-5b8e6f1f2a10",
        "status": status,
        "version": version,
        "createdAt": "2025-03-27T15:00:49+00:00",
        "someFutureField": {"ignored": True},
    }
    if event_type == "account.updated":
        payload["changes"] = ["status"]
    return OutboxEvent(
        version,
        uuid.uuid4(),
        event_type,
        ACCOUNT,
        uuid.uuid4(),
        uuid.uuid4(),
        version,
        payload,
        datetime.now(UTC),
    )


def consumer_record(key: bytes, value: bytes | None, headers: list[tuple[str, bytes]]) -> ConsumerRecord:  # type: ignore[type-arg]
    return ConsumerRecord("accounts.events", 2, 40, 0, 0, key, value, None, len(key), 0, headers)


def parsed(event: OutboxEvent, state: bool = False):  # type: ignore[no-untyped-def]
    record = state_record(event) if state else history_record(event)
    return parse_record(consumer_record(record.key, record.value, record.headers))


def test_a_record_is_read_back_into_an_event_with_its_account() -> None:
    event = parsed(outbox_event(3))
    assert (event.account_id, event.version, event.type, event.changes) == (
        str(ACCOUNT), 3, "account.updated", ["status"]
    )  # fmt: skip
    assert event.account is not None and event.account.external_id == "+15555550100"
    assert (event.topic, event.partition, event.offset) == ("accounts.events", 2, 40)


def test_a_tombstone_has_no_account_and_is_a_removal() -> None:
    event = parsed(outbox_event(5, "account.removed"), state=True)
    assert event.removed and event.account is None and event.version == 5


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        ([], b"{}"),
        ([("ce_id", b"x"), ("ce_type", b"account.updated"), ("ce_subject", b"a")], b"{}"),
        (history_record(outbox_event(1)).headers, b"not json"),
        (history_record(outbox_event(1)).headers, b'{"id": "missing the other fields"}'),
    ],
)
def test_records_that_are_not_account_events_are_refused(
    headers: list[tuple[str, bytes]], value: bytes
) -> None:
    with pytest.raises(NotAnAccountEvent):
        parse_record(consumer_record(b"k", value, headers))


def test_an_event_is_new_once_per_id_and_only_above_the_last_applied_version() -> None:
    state = MemoryState()
    v1, v2, v3 = parsed(outbox_event(1)), parsed(outbox_event(2)), parsed(outbox_event(3))
    assert is_new(state, v2)
    state.remember(v2)
    assert not is_new(state, v2)
    assert not is_new(state, v1)
    assert is_new(state, v3)
    assert state.last_version(str(ACCOUNT)) == 2


def test_memory_state_forgets_the_oldest_event_ids_beyond_its_bound() -> None:
    state = MemoryState(max_event_ids=2)
    first, *rest = [parsed(outbox_event(v)) for v in (1, 2, 3)]
    for event in (first, *rest):
        state.remember(event)
    assert not state.has_seen(first.id) and all(state.has_seen(e.id) for e in rest)


def test_the_example_inbox_polls_live_accounts_that_are_not_paused() -> None:
    inbox = Inbox()
    assert inbox.apply(parsed(outbox_event(1, "account.connected", "connecting"))).startswith("+ ")
    assert [a.id for a in inbox.pollable()] == [str(ACCOUNT)]
    assert "updated [status]" in inbox.apply(parsed(outbox_event(2, status="paused")))
    assert inbox.pollable() == [] and list(inbox.accounts) == [str(ACCOUNT)]
    assert "removed" in inbox.apply(parsed(outbox_event(3, "account.removed"), state=True))
    assert inbox.accounts == {}
