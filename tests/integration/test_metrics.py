import asyncio
import re
import time
import uuid
from collections.abc import Callable

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from service.settings import Settings
from tests.identity import Tenants
from tests.integration.accounts_support import new_account
from tests.integration.api_process import RelayProcess, relay_environment

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: AsyncTestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


def templated_route(client: AsyncTestClient) -> tuple[str, str]:
    """A GET route with a uuid path parameter, whichever the app has: (path prefix, template label)."""
    for route in client.app.routes:
        if route.path.endswith(":uuid}") and "GET" in getattr(route, "methods", ()):
            return route.path.split("{", 1)[0], re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
    raise AssertionError("the app has no GET route with a uuid parameter")


async def test_requests_are_counted_by_route_template_never_by_raw_path(client: AsyncTestClient) -> None:
    prefix, route = templated_route(client)
    before = await scrape(client)
    ids = [uuid.uuid4() for _ in range(3)]
    statuses = set()
    for item in ids:
        statuses.add((await client.get(f"{prefix}{item}")).status_code)
    for _ in range(2):
        await client.get("/healthz")
    await client.get(f"/no/such/thing/{uuid.uuid4()}")

    response = await client.get("/metrics")
    after = samples(response.text)
    (status,) = statuses
    for item in ids:
        assert str(item) not in response.text
    counted = "accounts_http_requests_total"
    assert value(after, counted, method="GET", route=route, status=str(status)) - value(
        before, counted, method="GET", route=route, status=str(status)
    ) == 3
    assert value(after, counted, method="GET", route="/healthz", status="200") - value(
        before, counted, method="GET", route="/healthz", status="200"
    ) == 2
    assert value(after, counted, method="GET", route="unmatched", status="404") - value(
        before, counted, method="GET", route="unmatched", status="404"
    ) == 1
    timed = "accounts_http_request_duration_seconds_count"
    timed_before = value(before, timed, method="GET", route=route)
    assert value(after, timed, method="GET", route=route) - timed_before == 3


async def test_unknown_methods_do_not_create_new_series(client: AsyncTestClient) -> None:
    await client.request("BREW", "/healthz")
    text = (await client.get("/metrics")).text
    assert "BREW" not in text
    assert 'method="OTHER"' in text


async def test_pool_usage_is_reported(client: AsyncTestClient, settings: Settings) -> None:
    scraped = await scrape(client)
    assert value(scraped, "accounts_db_pool_max_connections") == settings.db_pool_max_size
    # The scrape itself holds a connection while it reads the outbox, then gives it back.
    open_connections = value(scraped, "accounts_db_pool_connections", state="idle") + value(
        scraped, "accounts_db_pool_connections", state="in_use"
    )
    assert 1 <= open_connections <= settings.db_pool_max_size


async def _add_event(db: asyncpg.Connection, *, age: float = 0, state: str = "pending") -> None:
    await db.execute(
        """
        INSERT INTO outbox (event_id, event_type, account_id, organization_id, client_id,
                            account_version, payload, created_at, published_at, parked_at)
        VALUES ($1, 'account.updated', $2, $3, $4, 1, '{}'::jsonb, now() - make_interval(secs => $5),
                CASE WHEN $6 = 'published' THEN now() END, CASE WHEN $6 = 'parked' THEN now() END)
        """,
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), age, state,
    )


async def test_outbox_backlog_lag_and_parked_rows_are_visible(
    client: AsyncTestClient, db: asyncpg.Connection
) -> None:
    empty = await scrape(client)
    assert value(empty, "accounts_outbox_pending_events") == 0
    assert value(empty, "accounts_outbox_lag_seconds") == 0

    await _add_event(db, age=90)
    await _add_event(db)
    await _add_event(db, state="parked")
    await _add_event(db, state="published")

    scraped = await scrape(client)
    assert value(scraped, "accounts_outbox_pending_events") == 2
    assert 90 <= value(scraped, "accounts_outbox_lag_seconds") < 90 + 60
    assert value(scraped, "accounts_outbox_parked_events") == 1
    assert value(scraped, "accounts_outbox_published_last_minute") == 1


async def test_relay_publish_rate_and_parked_rows_are_exported(
    client: AsyncTestClient,
    settings: Settings,
    tenants: Tenants,
    token_for: Callable[..., str],
    db: asyncpg.Connection,
) -> None:
    headers = {"Authorization": f"Bearer {token_for(tenants.a.owner)}", "Accept": "application/json"}
    for i in range(3):
        body = new_account(tenants.a, externalId=f"+1555222{i:04d}")
        assert (await client.post("/api/accounts", json=body, headers=headers)).status_code == 201
    topic = uuid.uuid4().hex[:8]
    topics = {"KAFKA_EVENTS_TOPIC": f"ops.events.{topic}", "KAFKA_STATE_TOPIC": f"ops.state.{topic}"}
    relay = RelayProcess(relay_environment(settings, **topics))
    try:
        deadline = time.monotonic() + 90
        relay_scrape: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        while time.monotonic() < deadline:
            text = await asyncio.to_thread(relay.metrics)
            relay_scrape = samples(text) if text else {}
            if value(relay_scrape, "accounts_relay_published_total") >= 3:
                break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError("the relay published nothing:\n" + "\n".join(relay.lines))
    finally:
        relay.terminate()
        relay.wait_exit(30)
        relay.stop()

    assert value(relay_scrape, "accounts_relay_active") == 1
    assert value(relay_scrape, "accounts_relay_published_per_second") > 0
    assert value(relay_scrape, "accounts_relay_parked_events") == 0
    assert ("accounts_relay_backlog_events", frozenset()) in relay_scrape
    api_scrape = await scrape(client)
    assert value(api_scrape, "accounts_outbox_published_last_minute") == 3
    assert value(api_scrape, "accounts_outbox_pending_events") == 0
