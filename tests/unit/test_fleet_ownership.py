"""A fleet member's bookkeeping of one partition, its membership watch and its metrics."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import uuid

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from service.events.consumer import AccountEvent
from service.events.membership import MembershipWatch
from service.events.ownership import AccountFilter, Assigned, Released, Share, Updated
from service.events.schema import AccountChange
from service.events.worker_metrics import WorkerCollector, WorkerStats
from service.settings import SettingsError, load_settings

_offsets = itertools.count()


def event(
    account: str,
    version: int,
    status: str = "connected",
    integration: str = "whatsapp",
    changes: list[str] | None = None,
    removed: bool = False,
) -> AccountEvent:
    snapshot = AccountChange(
        id=account,
        name="Michael Scott",
        provider=integration,
        type=integration,
        integration=f"/api/integrations/{integration}",
        client="/api/clients/3f0b7c7e-8a51-4d5e-9a56-5b8e6f1f2a10",
        status=status,
        version=version,
        created_at="2025-03-27T15:00:49+00:00",
        changes=changes or [],
    )
    return AccountEvent(
        id=str(uuid.uuid4()),
        type="account.removed" if removed else "account.updated",
        account_id=account,
        organization_id="o",
        client_id="c",
        version=version,
        time="",
        source="",
        account=None if removed else snapshot,
        topic="accounts.state",
        partition=0,
        offset=next(_offsets),
    )


def test_a_rebuild_says_nothing_until_it_ends_then_assigns_only_the_pollable_accounts() -> None:
    share = Share(AccountFilter.of(["whatsapp"]))
    records = [
        event("a", 1),
        event("b", 1),
        event("b", 2, status="paused"),
        event("c", 1, integration="telegram"),
        event("d", 1),
        event("d", 2, removed=True),
        event("e", 3, status="disconnected"),
    ]
    assert [share.apply(r) for r in records] == [None] * len(records)
    assert share.take_over() == [Assigned(records[0].account)]  # type: ignore[arg-type]
    assert share.owned == {"a"} and set(share.accounts) == {"a", "b", "e"}
    assert share.position == records[-1].offset + 1


def test_after_the_rebuild_each_change_is_told_with_its_reason() -> None:
    share = Share(AccountFilter.of(["/api/integrations/whatsapp"]))
    share.apply(event("a", 1))
    share.take_over()
    renamed = event("a", 2, changes=["name"])
    assert share.apply(renamed) == Updated(renamed.account, ["name"])  # type: ignore[arg-type]
    assert share.apply(event("a", 3, status="paused")) == Released("a", "paused")
    assert share.apply(event("a", 4, status="paused")) is None
    resumed = event("a", 5, status="connecting")
    assert share.apply(resumed) == Assigned(resumed.account)  # type: ignore[arg-type]
    assert share.apply(event("a", 6, status="disconnected")) == Released("a", "disconnected")
    assert share.apply(event("a", 7)) == Assigned(event("a", 7).account)  # type: ignore[arg-type]
    assert share.apply(event("a", 8, integration="telegram")) == Released("a", "filtered")
    assert share.apply(event("b", 1)) == Assigned(event("b", 1).account)  # type: ignore[arg-type]
    assert share.apply(event("b", 2, removed=True)) == Released("b", "removed")
    assert share.owned == set()


def test_without_changes_on_the_record_they_are_read_from_the_snapshots() -> None:
    share = Share(AccountFilter())
    share.apply(event("a", 1))
    share.take_over()
    moved = event("a", 2, status="connecting", integration="whatsapp")
    assert share.apply(moved) == Updated(moved.account, ["status"])  # type: ignore[arg-type]
    # Same visible fields, a new version: only the write-only credentials can have changed.
    again = event("a", 3, status="connecting")
    assert share.apply(again) == Updated(again.account, ["credentials"])  # type: ignore[arg-type]


def test_versions_not_above_the_last_applied_are_ignored() -> None:
    share = Share(AccountFilter())
    share.apply(event("a", 3))
    share.take_over()
    assert share.apply(event("a", 3, changes=["name"])) is None
    assert share.apply(event("a", 2, status="paused")) is None
    share.apply(event("a", 4, removed=True))
    # A replayed snapshot older than the tombstone does not bring the account back.
    assert share.apply(event("a", 3)) is None and share.owned == set()


def test_giving_a_partition_up_releases_every_owned_account_as_revoked() -> None:
    share = Share(AccountFilter.of(providers=["whatsapp"]))
    for name in "cab":
        share.apply(event(name, 1))
    share.apply(event("x", 1, integration="gmail"))
    share.take_over()
    assert share.give_up() == [Released(n, "revoked") for n in "abc"]
    assert share.give_up() == []


def test_membership_lapses_before_the_coordinator_could_hand_the_accounts_to_another_member() -> None:
    watch = MembershipWatch(session_timeout=10.0, heartbeat_interval=3.0)
    watch.confirm(now=100.0)
    assert not watch.lapsed(now=104.0)
    assert watch.lapsed(now=104.1)
    # Even a check that comes one interval late releases before the session could expire.
    assert watch.allowance + watch.check_interval < watch.session_timeout - watch.heartbeat_interval


@pytest.mark.parametrize("seconds", [0.01, 0.3, 7.0, 100.0])
def test_worker_metrics_follow_the_prometheus_conventions(seconds: float) -> None:
    stats = WorkerStats(owned_accounts=42, rebalances_total=3)
    stats.record_rebuild(seconds)
    stats.record_release("paused")
    registry = CollectorRegistry()
    registry.register(WorkerCollector(stats))
    text = generate_latest(registry).decode()
    assert "accounts_worker_owned_accounts 42.0" in text
    assert "accounts_worker_rebalances_total 3.0" in text
    assert 'accounts_worker_rebuild_duration_seconds_bucket{le="+Inf"} 1.0' in text
    within_a_minute = "1.0" if seconds <= 60 else "0.0"
    assert f'accounts_worker_rebuild_duration_seconds_bucket{{le="60.0"}} {within_a_minute}' in text
    assert 'accounts_worker_released_accounts_total{reason="paused"} 1.0' in text
    assert f"accounts_worker_rebuild_duration_seconds_sum {seconds}" in text
    if promtool := shutil.which("promtool"):
        lint = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"WORKER_SESSION_TIMEOUT_MS": "5000"}, "WORKER_SESSION_TIMEOUT_MS must be at least 3 x"),
        ({"WORKER_HEARTBEAT_INTERVAL_MS": "0"}, "WORKER_SESSION_TIMEOUT_MS must be at least 3 x"),
        ({"WORKER_METRICS_PORT": "-1"}, "WORKER_METRICS_PORT must be between 0"),
    ],
)
def test_bad_fleet_settings_are_named(variables: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{message}"):
        load_settings({"DATABASE_URL": "postgresql://app@localhost/accounts", **variables})


def test_the_default_fleet_timings_leave_room_for_a_failover_within_fifteen_seconds() -> None:
    settings = load_settings({"DATABASE_URL": "postgresql://app@localhost/accounts"})
    assert settings.worker_session_timeout_ms + settings.worker_heartbeat_interval_ms <= 13_000


async def test_a_member_skips_records_that_are_not_account_events_and_reads_on() -> None:
    from aiokafka import ConsumerRecord

    from service.events.assignment import AccountAssignment
    from service.events.cloudevents import state_record
    from service.events.handler import Handler
    from tests.unit.test_event_consumer import ACCOUNT, outbox_event

    good = state_record(outbox_event(2))
    parts = [
        (b"k", b"{}", []),
        (b"k", b"{}", [("ce_subject", b"a"), ("ce_accountversion", b"two")]),
        (b"k", b"not json", [("ce_subject", b"b"), ("ce_accountversion", b"1")]),
        (good.key, good.value, good.headers),
    ]
    records = [
        ConsumerRecord("accounts.state", 0, offset, 0, 0, key, value, None, 1, 1, headers)
        for offset, (key, value, headers) in enumerate(parts)
    ]
    share = Share(AccountFilter())
    member = AccountAssignment("127.0.0.1:9", "accounts.state", "g", Handler())
    await member._apply(share, records)
    assert share.position == 4 and list(share.accounts) == [str(ACCOUNT)]
    assert share.versions == {str(ACCOUNT): 2}
