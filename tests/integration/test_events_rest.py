"""Every change made over REST reaches Kafka as exactly one event; a rejected request sends nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import count_at_least, event_settings, headers_of, read_topic, running_relay, wait_until
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import CANARY, JSON, Api, new_account

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")


@pytest.fixture
def api(client: AsyncTestClient, token_for: Callable[..., str]) -> Api:  # type: ignore[type-arg]
    return Api(client, token_for)


async def test_each_rest_change_is_one_event_and_a_rejected_request_none(
    api: Api, tenants: Tenants, settings: Settings, kafka_bootstrap: str, db: asyncpg.Connection
) -> None:
    relay_settings = event_settings(settings)
    await ensure_topics(relay_settings)
    owner, customer, viewer = tenants.a.owner, tenants.a.customer, tenants.a.viewer
    # (expected type, changes, the response whose body the event must carry)
    expected: list[tuple[str, list[str] | None, dict[str, object]]] = []

    created = await api.created(owner, new_account(tenants.a))
    expected.append(("account.connected", None, created))
    path = f"/api/accounts/{created['id']}"
    rename = {"name": "Dwight Schrute", "headline": "Assistant to the Regional Manager"}
    access = {"settings": {"receive": True, "send": False}, "metadata": {"desk": 2}}
    new_credentials = {"credentials": {"phoneNumberId": "1098765432", "accessToken": "rotated"}}
    for who, patch, changes in [
        (owner, rename, ["name", "headline"]),
        (customer, access, ["settings", "metadata"]),
        (owner, new_credentials, ["credentials"]),
        (WORKER, {"status": "connected"}, ["status"]),
        (WORKER, {"status": "disconnected", "statusReason": "token revoked"}, ["status", "statusReason"]),
        # Pausing clears the worker's reason.
        (owner, {"status": "paused"}, ["status", "statusReason"]),
        (customer, {"status": "connecting"}, ["status"]),
    ]:
        response = await api.patch(who, path, patch, JSON)
        assert response.status_code == 200, response.text
        expected.append(("account.updated", changes, response.json()))

    rejected = [
        await api.create(owner, new_account(tenants.a, name="")),  # 422
        await api.create(viewer, new_account(tenants.a, externalId="+15555550199")),  # 403
        await api.create(tenants.b.owner, new_account(tenants.a, externalId="+15555550198")),  # 4xx
        await api.patch(owner, path, {"version": 99}, JSON),  # read-only: 400
        await api.patch(owner, path, {"name": "stale"}, JSON, **{"If-Match": 'W/"1"'}),  # 412
        await api.patch(viewer, path, {"name": "viewer"}, JSON),  # 403
        await api.patch(WORKER, path, {"name": "worker"}, JSON),  # workers report status only
        await api.delete(tenants.b.owner, path),  # another organization: 404
    ]
    assert all(400 <= r.status_code < 500 for r in rejected), [r.status_code for r in rejected]
    # An idempotent replay answers again without a second account or event.
    keyed = new_account(tenants.a, externalId="+15555550150")
    first = await api.create(owner, keyed, JSON, **{"Idempotency-Key": "k-1"})
    replay = await api.create(owner, keyed, JSON, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and replay.json()["id"] == first.json()["id"]

    last = (await api.get(owner, path, JSON)).json()
    assert (await api.delete(owner, path)).status_code == 204
    expected.append(("account.removed", None, last | {"version": last["version"] + 1}))
    # Records are compared account by account: the first account's, then the keyed one's.
    expected.append(("account.connected", None, first.json()))

    assert await db.fetchval("SELECT count(*) FROM outbox") == len(expected)
    async with running_relay(relay_settings):
        await wait_until(lambda: db.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"))
        history = await read_topic(
            kafka_bootstrap, relay_settings.kafka_events_topic, count_at_least(len(expected))
        )
    assert len(history) == len(expected)

    by_account = sorted(history, key=lambda r: (r.key != created["id"].encode(), r.offset))
    for record, (event_type, changes, body) in zip(by_account, expected, strict=True):
        headers = headers_of(record)
        value = json.loads(record.value)
        assert record.key == str(body["id"]).encode()
        assert headers["ce_type"] == event_type
        assert headers["ce_subject"] == headers["ce_partitionkey"] == body["id"]
        assert headers["ce_organization"] == str(tenants.a.organization_id)
        assert headers["ce_client"] == str(tenants.a.client_ids[0])
        assert headers["ce_accountversion"] == str(value["version"])
        if event_type == "account.removed":
            assert value["version"] == body["version"]
            assert {k: v for k, v in value.items() if k not in {"version", "updatedAt"}} == {
                k: v for k, v in body.items() if k not in {"version", "updatedAt"}
            }
        else:
            assert value == body | ({"changes": changes} if changes is not None else {})
        assert CANARY not in record.value.decode() and "rotated" not in record.value.decode()
    mine = [int(headers_of(r)["ce_accountversion"]) for r in by_account if r.key == created["id"].encode()]
    assert mine == list(range(1, len(mine) + 1))
