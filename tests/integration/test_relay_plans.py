"""The relay's reads stay index walks when the outbox grows from empty under a burst of writes.

The relay's connection prepares its statements once, while the outbox may be empty (a fresh install,
a clean-up); a plan cached then, or statistics from then, must not turn a later backlog into a scan
per round. The burst is 50,000 events, 500 per transaction (one per account), as fast as the database
takes them: large enough that a scanning plan is visibly the wrong one, small enough to drain in
seconds.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from service.db.sql import load_queries
from service.events.outbox import CHANNEL
from service.events.relay import connection_settings
from service.events.topics import ensure_topics
from service.settings import Settings
from tests.eventing import Tenant, event_settings, running_relay, wait_until

pytestmark = pytest.mark.usefixtures("kafka_bootstrap")

EVENTS = 50_000
ACCOUNTS = 500
_SQL = load_queries("service.events", "relay.sql")
ALL_PUBLISHED = "SELECT count(*) FILTER (WHERE published_at IS NULL) = 0 AND count(*) = $1 FROM outbox"
BURST = """
SELECT record_event(gen_random_uuid(), 'account.updated', a.id, $1, $2, $3::integer,
                    jsonb_build_object('id', a.id, 'version', $3::integer, 'changes', '["name"]'::jsonb), $4)
FROM unnest($5::uuid[]) AS a (id)
"""


def _scans(plan: dict[str, Any]) -> list[str]:
    """The relations read by sequential scans anywhere in a JSON plan."""
    found = [plan["Relation Name"]] if plan["Node Type"] == "Seq Scan" else []
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def _plan_scans(connection: asyncpg.Connection, statement: str, arguments: str) -> list[str]:
    text = await connection.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE {statement}({arguments})")
    return _scans(json.loads(text)[0]["Plan"])


async def test_pending_reads_walk_the_index_after_a_burst_on_an_empty_analyzed_outbox(
    settings: Settings, conn: asyncpg.Connection, tenant: Tenant
) -> None:
    mine = event_settings(settings)
    await ensure_topics(mine)
    await conn.execute("ANALYZE outbox")
    # A session opened the way the relay opens its own, its statements prepared while the outbox is
    # empty and run often enough that PostgreSQL would switch to a cached generic plan if allowed.
    relay_like = await asyncpg.connect(mine.database_url, server_settings=connection_settings(mine))
    try:
        await relay_like.execute(f"PREPARE pending (integer) AS {_SQL['pending']}")
        await relay_like.execute(
            f"PREPARE around_parked (integer, uuid[], bigint[]) AS {_SQL['pending_around_parked']}"
        )
        for _ in range(8):
            await relay_like.execute("EXECUTE pending(500)")
            await relay_like.execute(f"EXECUTE around_parked(500, '{{{uuid.uuid4()}}}', '{{1}}')")
        accounts = [uuid.uuid4() for _ in range(ACCOUNTS)]
        async with running_relay(mine) as relay:
            await wait_until(lambda: relay.stats.active)
            for version in range(1, EVENTS // ACCOUNTS + 1):
                await conn.execute(
                    BURST, tenant.organization_id, tenant.client_id, version, CHANNEL, accounts
                )
            backlog = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            plans = {
                "pending": await _plan_scans(relay_like, "pending", "500"),
                "around_parked": await _plan_scans(
                    relay_like, "around_parked", f"500, '{{{accounts[0]}}}', '{{1}}'"
                ),
            }
            await relay_like.execute("SET plan_cache_mode = force_generic_plan")
            generic = await _plan_scans(relay_like, "pending", "500")
            await wait_until(lambda: conn.fetchval(ALL_PUBLISHED, EVENTS), timeout=180, interval=0.5)
    finally:
        await relay_like.close()

    assert backlog > 0, "the relay kept up with the burst: nothing was measured under a backlog"
    assert plans == {"pending": [], "around_parked": []}
    assert generic == [], "even a generic plan of the relay's session must not scan the outbox"
    assert relay.stats.published_total == EVENTS
