"""Every metric the alerts and the dashboard read is exported by a running process of the service."""

from __future__ import annotations

import asyncio
import time

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from service.settings import Settings
from tests.integration.api_process import RelayProcess, relay_environment
from tests.unit.test_monitoring import UNBOUNDED_LABELS, expressions, metric_names

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")


def exported(text: str) -> dict[str, str]:
    """Each exposed series name (as PromQL sees it) and its family's type."""
    names: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
        names |= {family.name + suffix: family.type for suffix in suffixes}
        names |= {sample.name: family.type for sample in family.samples}
        for sample in family.samples:
            assert not set(sample.labels) & UNBOUNDED_LABELS, f"{sample.name} has an unbounded label"
    return names


def relay_metrics(settings: Settings) -> str:
    relay = RelayProcess(relay_environment(settings))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = relay.metrics()
            if text and "accounts_relay_active" in text:
                return text
            time.sleep(0.2)
        raise AssertionError("the relay served no metrics:\n" + "\n".join(relay.lines))
    finally:
        relay.terminate()
        relay.wait_exit(30)
        relay.stop()


async def test_alerts_and_dashboard_read_exported_metrics_named_by_prometheus_conventions(
    client: AsyncTestClient,  # type: ignore[type-arg]
    settings: Settings,
) -> None:
    await client.get("/api/accounts")  # one answered request, so the labelled HTTP series exist
    api = await client.get("/metrics")
    assert api.status_code == 200
    names = exported(api.text) | exported(await asyncio.to_thread(relay_metrics, settings))

    wanted = set().union(*(metric_names(expr) for expr in expressions()))
    assert wanted - set(names) == set(), "rules or dashboard panels read metrics nobody exports"
    for name, kind in names.items():
        if not name.startswith("accounts_"):
            continue  # the client library's own process and platform metrics
        if kind == "counter":
            assert name.endswith(("_total", "_created")), name
        else:
            assert not name.endswith("_total"), f"{name} is a {kind} named like a counter"
        if "duration" in name or "age" in name.split("_"):
            assert "_seconds" in name, f"{name}: a time without its unit"
