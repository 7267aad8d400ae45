"""Pure webhook rules: which addresses are public, what a status means, when to try again, settings."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from service.settings import SettingsError, load_settings
from service.webhooks.addresses import AddressRefused, host_refusal, is_public, resolve_all
from service.webhooks.policy import MAX_RETRY_AFTER, Verdict, next_delay, retry_after, verdict
from service.webhooks.signing import new_secret, signature_header

BASE = {"DATABASE_URL": "postgresql://app@localhost/accounts"}


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1", "ff02::1", "::ffff:10.0.0.1", "192.0.2.1",
     "198.18.0.1", "fd00:ec2::254"],
)  # fmt: skip
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert host_refusal(address) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))
    assert host_refusal(address) is None


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost", "nas.local", "db.internal"])
def test_local_names_are_refused_without_resolving(host: str) -> None:
    assert host_refusal(host) is not None


async def test_resolution_refuses_loopback_unless_allowed() -> None:
    with pytest.raises(AddressRefused):
        await resolve_all("localhost", 443, allow_private=False, within=2)
    with pytest.raises(AddressRefused):
        await resolve_all("127.0.0.1", 443, allow_private=False, within=2)
    loopback = await resolve_all("127.0.0.1", 443, allow_private=True, within=2)
    assert [str(a) for a in loopback] == ["127.0.0.1"]
    assert all(a.is_loopback for a in await resolve_all("localhost", 443, allow_private=True, within=2))


def test_verdicts() -> None:
    assert [verdict(s) for s in (200, 204, 299)] == [Verdict.DELIVERED] * 3
    assert verdict(410) is Verdict.GONE
    assert [verdict(s) for s in (None, 301, 400, 404, 429, 500, 503)] == [Verdict.RETRY] * 7


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert retry_after("120") == 120
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert retry_after("99999999") == MAX_RETRY_AFTER
    for unusable in (None, "", "soon", "-5", "1.5", "x" * 100):
        assert retry_after(unusable) is None


def test_next_delay_follows_the_schedule_with_jitter_and_honours_retry_after() -> None:
    schedule = (0.0, 5.0, 300.0)
    rng = random.Random(7)
    assert next_delay(schedule, 0, None, rng) == 0
    delays = [next_delay(schedule, 1, None, rng) for _ in range(200)]
    assert all(4.0 <= d <= 6.0 for d in delays if d is not None) and len(set(delays)) > 100
    assert next_delay(schedule, 1, 60.0, rng) == 60.0
    assert next_delay(schedule, 3, None, rng) is None


def test_signatures_are_the_standard_webhooks_ones() -> None:
    from standardwebhooks.webhooks import Webhook

    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    now = int(datetime.now(UTC).timestamp())
    header = signature_header([first, second], "msg_1", now, b'{"a":1}')
    assert len(header.split(" ")) == 2
    for secret in (first, second):
        assert Webhook(secret).verify(b'{"a":1}', {"webhook-id": "msg_1", "webhook-timestamp": str(now),
                                                   "webhook-signature": header}) == {"a": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value"),
    [("WEBHOOKS_RETRY_SCHEDULE", " "), ("WEBHOOKS_RETRY_SCHEDULE", "0,soon"),
     ("WEBHOOKS_RETRY_SCHEDULE", "-1"), ("WEBHOOKS_RETRY_SCHEDULE", "0,nan"), ("WEBHOOKS_READ_TIMEOUT", "0"),
     ("WEBHOOKS_MAX_IN_FLIGHT_PER_ENDPOINT", "0"), ("WEBHOOKS_METRICS_PORT", "70000")],
)  # fmt: skip
def test_bad_webhook_settings_are_named(variable: str, value: str) -> None:
    env = BASE | {variable: value}
    with pytest.raises(SettingsError, match=variable):
        load_settings(env)


def test_webhook_setting_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.webhooks_allow_private_urls is False
    assert settings.webhook_retry_schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
