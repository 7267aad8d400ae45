"""Every metric the alerts and the dashboard read is exported by a running process of the service."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from service.settings import Settings
from tests.integration.api_process import api_environment, free_port, relay_environment
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


def served_metrics(env: dict[str, str], port_variable: str, marker: str, *command: str) -> str:
    """Run `accounts-service COMMAND` with its metrics port on, and scrape it once `marker` shows."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", *command],
        env=env | {port_variable: str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                text = ""
            if marker in text:
                return text
            time.sleep(0.2)
        raise AssertionError(f"{command[0]} served no {marker}")
    finally:
        process.terminate()
        try:
            _, errors = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
        assert process.returncode is not None, errors


def every_process(settings: Settings) -> list[str]:
    """The relay's, the webhook dispatcher's and a worker-fleet member's metrics."""
    return [
        served_metrics(relay_environment(settings), "RELAY_METRICS_PORT", "accounts_relay_active", "relay"),
        served_metrics(
            api_environment(settings),
            "WEBHOOKS_METRICS_PORT",
            "accounts_webhook_dispatcher_active",
            "webhooks",
        ),
        served_metrics(
            relay_environment(settings),
            "WORKER_METRICS_PORT",
            "accounts_worker_owned_accounts",
            "worker-example",
            "--group",
            "monitoring-check",
            "--json",
        ),
    ]


async def test_alerts_and_dashboard_read_exported_metrics_named_by_prometheus_conventions(
    client: AsyncTestClient,  # type: ignore[type-arg]
    settings: Settings,
) -> None:
    await client.get("/api/accounts")  # one answered request, so the labelled HTTP series exist
    api = await client.get("/metrics")
    assert api.status_code == 200
    names = exported(api.text)
    for text in await asyncio.to_thread(every_process, settings):
        names |= exported(text)

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
