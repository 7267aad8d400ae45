"""The AsyncAPI document says what the code emits: topics, headers, event types and payload fields."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, get_args

import msgspec
import pytest

from service.accounts import representation
from service.events import cloudevents
from service.events.outbox import EventType
from service.events.schema import AccountSnapshot
from service.events.store import OutboxEvent
from service.events.topics import topic_configs
from service.settings import load_settings
from tests.conftest import REPO_ROOT

DEFAULTS = load_settings({"DATABASE_URL": "postgresql://app@localhost/accounts"})


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    document: dict[str, Any] = msgspec.yaml.decode((REPO_ROOT / "docs" / "asyncapi.yaml").read_bytes())
    return document


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow a local $ref."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def flatten(doc: dict[str, Any], schema: Any) -> dict[str, Any]:
    """A schema's properties and required names, merged through allOf."""
    schema = resolve(doc, schema)
    merged: dict[str, Any] = {"properties": dict(schema.get("properties", {})), "required": []}
    merged["required"] += schema.get("required", [])
    for part in schema.get("allOf", []):
        inner = flatten(doc, part)
        for name, value in inner["properties"].items():
            merged["properties"][name] = merged["properties"].get(name, {}) | value
        merged["required"] += inner["required"]
    return merged


def sample(event_type: str) -> OutboxEvent:
    account = uuid.uuid4()
    return OutboxEvent(
        1, uuid.uuid4(), event_type, account, uuid.uuid4(), uuid.uuid4(), 3, {}, datetime.now(UTC)
    )


def test_is_an_asyncapi_3_document_whose_references_all_resolve(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    found = refs(doc)
    assert len(found) > 10
    for ref in found:
        assert resolve(doc, {"$ref": ref}) is not None, ref


def test_topics_and_their_layout_are_the_relays_defaults(doc: dict[str, Any]) -> None:
    channels = doc["channels"]
    history, state = channels["accountsEvents"], channels["accountsState"]
    assert (history["address"], state["address"]) == (DEFAULTS.kafka_events_topic, DEFAULTS.kafka_state_topic)
    configs = topic_configs(DEFAULTS)
    for channel in (history, state):
        binding = channel["bindings"]["kafka"]
        assert binding["topic"] == channel["address"]
        assert binding["partitions"] == DEFAULTS.kafka_topic_partitions
        expected = configs[channel["address"]]
        documented = {k: v[0] if isinstance(v, list) else v for k, v in binding["topicConfiguration"].items()}
        assert {k: str(v) for k, v in documented.items()} == {k: expected[k] for k in documented}
        assert documented["cleanup.policy"] == expected["cleanup.policy"]


def test_headers_are_exactly_those_the_relay_writes(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    event_headers = flatten(doc, schemas["EventHeaders"])
    tombstone_headers = flatten(doc, schemas["TombstoneHeaders"])
    updated = cloudevents.history_record(sample("account.updated"))
    tombstone = cloudevents.state_record(sample("account.removed"))
    assert tombstone.value is None

    assert set(event_headers["properties"]) == {name for name, _ in updated.headers}
    assert set(event_headers["required"]) == set(event_headers["properties"])
    assert set(tombstone_headers["properties"]) == {name for name, _ in tombstone.headers}
    assert set(tombstone_headers["required"]) == set(tombstone_headers["properties"])
    assert set(cloudevents.HEADERS) == set(event_headers["properties"])
    written = {name: value.decode() for name, value in updated.headers}
    for name in ("ce_specversion", "ce_source", "content-type"):
        assert event_headers["properties"][name]["const"] == written[name]


def snapshot_fields() -> list[str]:
    """The JSON names of a snapshot's fields."""
    return list(AccountSnapshot.__struct_encode_fields__)


def test_event_types_are_those_the_outbox_records(doc: dict[str, Any]) -> None:
    messages = doc["channels"]["accountsEvents"]["messages"]
    documented = {}
    for message in messages.values():
        message = resolve(doc, message)
        documented[message["name"]] = flatten(doc, message["headers"])["properties"]["ce_type"]["const"]
    assert all(name == ce_type for name, ce_type in documented.items())
    assert set(documented) == set(get_args(EventType))
    header_enum = doc["components"]["schemas"]["TombstoneHeaders"]["properties"]["ce_type"]["enum"]
    assert set(header_enum) == set(get_args(EventType))


def test_payload_fields_are_the_account_snapshot_fields(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    snapshot = schemas["AccountSnapshot"]
    assert list(snapshot["properties"]) == snapshot_fields()
    required = [
        field.encode_name for field in msgspec.inspect.type_info(AccountSnapshot).fields if field.required
    ]
    assert sorted(snapshot["required"]) == sorted(required)
    example = snapshot["examples"][0]
    assert list(example) == snapshot_fields()
    assert msgspec.convert(example, AccountSnapshot).id == example["id"]
    change = flatten(doc, schemas["AccountChange"])
    assert set(change["properties"]) == {*snapshot_fields(), "changes"}
    assert "changes" in change["required"]
    assert "credentials" not in snapshot["properties"]


def test_payload_fields_and_changes_are_those_of_the_rest_read_shape(doc: dict[str, Any]) -> None:
    row = {
        "id": uuid.uuid4(), "name": "n", "headline": None, "avatar": None, "provider": "whatsapp",
        "type": "whatsapp", "integration": "whatsapp", "external_id": None, "client_id": uuid.uuid4(),
        "status": "connecting", "status_reason": None, "settings": {}, "metadata": {}, "version": 1,
        "created_at": datetime.now(UTC), "updated_at": None,
    }  # fmt: skip
    assert list(representation.fields(row)) == snapshot_fields()
    change = flatten(doc, doc["components"]["schemas"]["AccountChange"])
    assert change["properties"]["changes"]["items"]["enum"] == list(representation.CHANGEABLE)
