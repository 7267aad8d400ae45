"""The account counters behind `totalItems`: exact after every kind of write, concurrent ones included."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import asyncpg

from bench import seed as bench_seed
from service.auth.principal import Principal
from service.db.sql import load_queries
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import JSON, Api, new_account, wait_for_lock_waiters

SQL = load_queries("service.accounts", "queries.sql")
STATUSES = ("connecting", "connected", "disconnected", "error", "paused")

# What the counters must agree with: the live accounts, counted one by one.
TRUE_TOTAL = """
SELECT count(*) FROM accounts
WHERE deleted_at IS NULL
  AND ($1::uuid IS NULL OR organization_id = $1) AND ($2::uuid IS NULL OR client_id = $2)
  AND ($3::uuid[] IS NULL OR client_id = ANY ($3)) AND ($4::text[] IS NULL OR integration = ANY ($4))
  AND ($5::text[] IS NULL OR provider = ANY ($5)) AND ($6::text[] IS NULL OR status = ANY ($6))
"""
COUNTERS = """
SELECT organization_id, client_id, integration, provider, status, shard, count
FROM account_counts WHERE count <> 0
"""
GROUPED = """
SELECT organization_id, client_id, integration, provider, status, account_counts_shard(id) AS shard,
       count(*) AS count
FROM accounts WHERE deleted_at IS NULL
GROUP BY 1, 2, 3, 4, 5, 6
"""


@dataclass(frozen=True)
class Filters:
    clients: list[uuid.UUID] | None = None
    integrations: list[str] | None = None
    providers: list[str] | None = None
    statuses: list[str] | None = None

    def query(self) -> str:
        pairs = [("itemsPerPage", "1")]
        pairs += [("client", f"/api/clients/{c}") for c in self.clients or ()]
        pairs += [("integration", i) for i in self.integrations or ()]
        pairs += [("provider", p) for p in self.providers or ()]
        pairs += [("status", s) for s in self.statuses or ()]
        return urlencode(pairs)


def _filters(tenants: Tenants) -> list[Filters]:
    a0, a1 = tenants.a.client_ids
    return [
        Filters(),
        Filters(clients=[a0]),
        Filters(clients=[a1]),
        Filters(clients=[a0, a1]),
        Filters(clients=[tenants.b.client_ids[0]]),
        Filters(clients=[uuid.uuid4()]),
        Filters(integrations=["whatsapp"]),
        Filters(integrations=["linkedin"]),
        Filters(integrations=["whatsapp", "linkedin"]),
        Filters(integrations=["telegram"]),
        Filters(providers=["linkedin"]),
        Filters(statuses=["connecting"]),
        Filters(statuses=["connected"]),
        Filters(statuses=["paused", "error"]),
        Filters(clients=[a0], statuses=["paused"]),
        Filters(integrations=["linkedin"], statuses=["connecting"]),
        Filters(clients=[a1], providers=["whatsapp"], statuses=["connected", "paused"]),
    ]


def _callers(tenants: Tenants) -> list[tuple[Principal, uuid.UUID | None, uuid.UUID | None]]:
    """Each caller with the (organization, client) it sees."""
    a, b = tenants.a, tenants.b
    return [
        (a.owner, a.organization_id, None),
        (a.customer, a.organization_id, a.client_ids[0]),
        (a.customer_of(1), a.organization_id, a.client_ids[1]),
        (b.owner, b.organization_id, None),
        (WORKER, None, None),
    ]


async def _total_items(api: Api, who: Principal, query: str) -> int:
    response = await api.get(who, f"/api/accounts?{query}")
    assert response.status_code == 200, response.text
    total: int = response.json()["totalItems"]
    return total


async def _assert_totals_exact(api: Api, db: asyncpg.Connection, tenants: Tenants) -> dict[str, int]:
    """totalItems of every caller and filter equals the live accounts; returns a few for spot checks."""
    seen: dict[str, int] = {}
    for who, organization_id, client_id in _callers(tenants):
        for filters in _filters(tenants):
            expected = await db.fetchval(
                TRUE_TOTAL,
                organization_id,
                client_id,
                filters.clients,
                filters.integrations,
                filters.providers,
                filters.statuses,
            )
            actual = await _total_items(api, who, filters.query())
            assert actual == expected, (who.subject, filters)
            seen[f"{who.subject}?{filters.query()}"] = actual
    await _assert_counters_match(db)
    return seen


async def _assert_counters_match(db: asyncpg.Connection) -> None:
    counters = {tuple(row.values())[:-1]: row["count"] for row in await db.fetch(COUNTERS)}
    grouped = {tuple(row.values())[:-1]: row["count"] for row in await db.fetch(GROUPED)}
    assert counters == grouped
    assert await db.fetchval("SELECT count(*) FROM account_counts WHERE count < 0") == 0


async def test_total_items_stay_exact_through_creates_patches_and_deletes(
    api: Api, db: asyncpg.Connection, tenants: Tenants
) -> None:
    a, b = tenants.a, tenants.b
    created: list[dict[str, Any]] = []
    for index in range(5):
        created.append(await api.created(a.owner, new_account(a, 0, externalId=f"a0-{index}")))
    for index in range(3):
        created.append(await api.created(a.customer_of(1), new_account(externalId=f"a1-{index}")))
    for index in range(2):
        created.append(await api.created(b.owner, new_account(b, 0, externalId=f"b0-{index}")))
    totals = await _assert_totals_exact(api, db, tenants)
    assert totals["worker?itemsPerPage=1"] == 10
    assert totals[f"{a.owner.subject}?itemsPerPage=1"] == 8
    assert totals["customer-0?itemsPerPage=1"] == 5

    # Status changes: an owner pauses and resumes, a customer pauses, workers report.
    path = [f"/api/accounts/{account['id']}" for account in created]
    for who, index, status in [
        (a.owner, 0, "paused"),
        (a.owner, 1, "paused"),
        (a.owner, 1, "connecting"),
        (a.customer_of(1), 5, "paused"),
        (WORKER, 2, "connected"),
        (WORKER, 3, "error"),
        (WORKER, 6, "connected"),
        (WORKER, 8, "disconnected"),
    ]:
        response = await api.patch(who, path[index], {"status": status}, JSON)
        assert response.status_code == 200, response.text
    totals = await _assert_totals_exact(api, db, tenants)
    assert totals[f"{a.owner.subject}?itemsPerPage=1&status=paused&status=error"] == 3

    # Edits that move no account between counters change nothing, not even a counter row's version.
    before = await db.fetch("SELECT ctid, xmin::text FROM account_counts ORDER BY ctid")
    response = await api.patch(a.owner, path[2], {"headline": "Assistant to the Regional Manager"}, JSON)
    assert response.status_code == 200, response.text
    assert await db.fetch("SELECT ctid, xmin::text FROM account_counts ORDER BY ctid") == before

    # Moves between integrations and providers (no API does this yet; the counters follow any write).
    await db.execute(
        "UPDATE accounts SET integration = 'linkedin', provider = 'linkedin', type = 'linkedin'"
        " WHERE id = ANY($1::uuid[])",
        [created[index]["id"] for index in (0, 3, 6)],
    )
    await _assert_totals_exact(api, db, tenants)

    # Deletes leave tombstones, which are not counted; deleting twice counts once.
    for who, index in [(a.owner, 0), (a.customer, 4), (a.customer_of(1), 7), (b.owner, 9)]:
        assert (await api.delete(who, path[index])).status_code == 204
    assert (await api.delete(a.owner, path[0])).status_code == 404
    totals = await _assert_totals_exact(api, db, tenants)
    assert totals["worker?itemsPerPage=1"] == 6
    assert await db.fetchval("SELECT count(*) FROM accounts") == 10

    # Counting goes on after deletes.
    await api.created(a.customer, new_account(externalId="a0-again"))
    await _assert_totals_exact(api, db, tenants)


async def test_deleting_a_client_or_an_organization_takes_its_counters_along(
    api: Api, db: asyncpg.Connection, tenants: Tenants
) -> None:
    a, b = tenants.a, tenants.b
    for index in range(4):
        await api.created(a.owner, new_account(a, index % 2, externalId=str(index)))
        await api.created(b.owner, new_account(b, index % 2, externalId=str(index)))
    await db.execute("DELETE FROM clients WHERE id = $1", a.client_ids[1])
    assert await db.fetchval("SELECT count(*) FROM account_counts WHERE client_id = $1", a.client_ids[1]) == 0
    await _assert_totals_exact(api, db, tenants)
    await db.execute("DELETE FROM organizations WHERE id = $1", b.organization_id)
    remaining = await db.fetchval(
        "SELECT count(*) FROM account_counts WHERE organization_id = $1", b.organization_id
    )
    assert remaining == 0
    assert await _total_items(api, WORKER, "") == 2
    await _assert_counters_match(db)
    await db.execute("TRUNCATE accounts")
    assert await db.fetchval("SELECT count(*) FROM account_counts") == 0
    assert await _total_items(api, WORKER, "") == 0


async def test_a_name_filter_still_counts_the_accounts(
    api: Api, db: asyncpg.Connection, tenants: Tenants
) -> None:
    a = tenants.a
    for index, name in enumerate(["Michael Scott", "Dwight Schrute", "Jim Halpert", "Pam Beesly"]):
        await api.created(a.owner, new_account(a, 0, name=name, externalId=str(index)))
    # Counters that lie (they never should) show which totals come from them and which do not.
    await db.execute("UPDATE account_counts SET count = count + 100")
    assert await _total_items(api, a.owner, "name=sc") == 2
    assert await _total_items(api, a.owner, "name=sc&status=connecting") == 2
    assert await _total_items(api, a.owner, "name=sc&status=paused") == 0
    assert await _total_items(api, a.owner, "name=e") == 4
    assert await _total_items(api, a.owner, "name=") > 100
    assert await _total_items(api, a.owner, "") > 100


def _same_shard_ids(count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4()]
    while len(ids) < count:
        candidate = uuid.uuid4()
        if candidate.bytes[15] & 15 == ids[0].bytes[15] & 15:
            ids.append(candidate)
    return ids


async def _insert(
    connection: asyncpg.Connection,
    account_id: uuid.UUID,
    organization_id: uuid.UUID,
    client_id: uuid.UUID,
    integration: str = "whatsapp",
    status: str = "connecting",
    deleted: bool = False,
) -> None:
    await connection.execute(
        "INSERT INTO accounts (id, organization_id, client_id, integration, provider, type, name, status,"
        " deleted_at) VALUES ($1, $2, $3, $4, $4, $4, 'n', $5, CASE WHEN $6 THEN now() END)",
        account_id,
        organization_id,
        client_id,
        integration,
        status,
        deleted,
    )


async def test_opposite_moves_on_one_shard_take_the_counter_rows_in_one_order(
    database_url: str, db: asyncpg.Connection, tenants: Tenants
) -> None:
    """x: connecting -> connected and y: connected -> connecting, both held at their first counter row."""
    a = tenants.a
    x, y = _same_shard_ids(2)
    await _insert(db, x, a.organization_id, a.client_ids[0], status="connecting")
    await _insert(db, y, a.organization_id, a.client_ids[0], status="connected")
    holder, first, second = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        hold = holder.transaction()
        await hold.start()
        await holder.execute(
            "SELECT 1 FROM account_counts WHERE organization_id = $1 AND status = 'connected'"
            " AND shard = account_counts_shard($2) FOR UPDATE",
            a.organization_id,
            x,
        )

        async def move(connection: asyncpg.Connection, account_id: uuid.UUID, status: str) -> None:
            async with connection.transaction():
                await connection.execute("UPDATE accounts SET status = $2 WHERE id = $1", account_id, status)

        moves = [
            asyncio.create_task(move(first, x, "connected")),
            asyncio.create_task(move(second, y, "connecting")),
        ]
        await wait_for_lock_waiters(db, 2)
        await hold.commit()
        # Had either taken its other counter row first, the two would now wait on each other.
        await asyncio.wait_for(asyncio.gather(*moves), timeout=30)
    finally:
        for connection in (holder, first, second):
            await connection.close()
    await _assert_counters_match(db)


@dataclass
class _Population:
    """The accounts the writers pick from, and what they did."""

    organizations: dict[uuid.UUID, tuple[uuid.UUID, ...]]
    ids: list[uuid.UUID] = field(default_factory=list)
    rolled_back: int = 0
    deadlocks: int = 0


async def _writer(connection: asyncpg.Connection, population: _Population, rng: random.Random) -> None:
    organizations = list(population.organizations)

    async def one_change() -> None:
        choice = rng.random()
        target = rng.choice(population.ids) if population.ids else None
        if choice < 0.3 or target is None:
            organization_id = rng.choice(organizations)
            account_id = uuid.uuid4()
            await _insert(
                connection,
                account_id,
                organization_id,
                rng.choice(population.organizations[organization_id]),
                rng.choice(["whatsapp", "linkedin"]),
                rng.choice(STATUSES),
                deleted=rng.random() < 0.1,
            )
            population.ids.append(account_id)
        elif choice < 0.5:
            await connection.execute(
                "UPDATE accounts SET status = $2 WHERE id = $1", target, rng.choice(STATUSES)
            )
        elif choice < 0.58:
            integration = rng.choice(["whatsapp", "linkedin"])
            await connection.execute(
                "UPDATE accounts SET integration = $2, provider = $3 WHERE id = $1",
                target,
                integration,
                rng.choice([integration, "other"]),
            )
        elif choice < 0.64:
            # Another client of the same organization.
            await connection.execute(
                "UPDATE accounts a SET client_id = (SELECT c.id FROM clients c"
                " WHERE c.organization_id = a.organization_id ORDER BY c.id OFFSET $2 LIMIT 1)"
                " WHERE id = $1",
                target,
                rng.randrange(2),
            )
        elif choice < 0.76:
            await connection.execute(
                "UPDATE accounts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL", target
            )
        elif choice < 0.8:
            await connection.execute(
                "UPDATE accounts SET deleted_at = NULL, status = $2 WHERE id = $1", target, "connecting"
            )
        elif choice < 0.86:
            await connection.execute("DELETE FROM accounts WHERE id = $1", target)
        elif choice < 0.95:
            await connection.execute(
                "UPDATE accounts SET headline = $2, status = status WHERE id = $1", target, str(rng.random())
            )
        else:
            # Many accounts in one statement (this one can deadlock with others: it is then undone).
            await connection.execute(
                "UPDATE accounts SET status = $2 WHERE organization_id = $1 AND status = $3",
                rng.choice(organizations),
                rng.choice(STATUSES),
                rng.choice(STATUSES),
            )

    for _ in range(80):
        try:
            async with connection.transaction():
                for _ in range(rng.choice([1, 1, 1, 2])):
                    await one_change()
                if rng.random() < 0.15:
                    raise _Undo
        except _Undo:
            population.rolled_back += 1
        except asyncpg.DeadlockDetectedError:
            population.deadlocks += 1


class _Undo(Exception):
    """Rolls a writer's transaction back on purpose."""


async def test_counters_match_a_group_by_after_random_concurrent_writes(
    database_url: str, db: asyncpg.Connection, tenants: Tenants
) -> None:
    seed = random.randrange(2**32)
    population = _Population({t.organization_id: t.client_ids for t in (tenants.a, tenants.b)})
    rng = random.Random(seed)
    for _ in range(40):
        organization_id = rng.choice(list(population.organizations))
        account_id = uuid.uuid4()
        await _insert(db, account_id, organization_id, population.organizations[organization_id][0])
        population.ids.append(account_id)
    connections = [await asyncpg.connect(database_url) for _ in range(8)]
    try:
        await asyncio.gather(
            *(
                _writer(connection, population, random.Random(seed + index))
                for index, connection in enumerate(connections)
            )
        )
    finally:
        for connection in connections:
            await connection.close()
    assert population.rolled_back > 0, seed
    print(f"seed {seed}: {population.rolled_back} rolled back, {population.deadlocks} deadlocks")
    await _assert_counters_match(db)
    live = await db.fetchval("SELECT count(*) FROM accounts WHERE deleted_at IS NULL")
    assert await db.fetchval("SELECT sum(count) FROM account_counts") == live, seed


async def _plan(db: asyncpg.Connection, args: str) -> list[dict[str, Any]]:
    # Past its first executions PostgreSQL may switch to a generic plan: that one must be good too.
    for _ in range(6):
        await db.execute(f"EXECUTE total({args})")
    raw = await db.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE total({args})")
    nodes: list[dict[str, Any]] = []
    pending = [json.loads(raw)[0]["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending += node.get("Plans", [])
    return nodes


async def test_unfiltered_and_equality_filtered_totals_do_not_read_accounts(
    db: asyncpg.Connection, tenants: Tenants
) -> None:
    a, b = tenants.a, tenants.b
    # 30,000 accounts through the triggers, written as an application writes: many small transactions
    # (a single statement writing them all would leave a version of a counter row per account).
    for batch in range(150):
        tenant = a if batch % 5 == 0 else b
        await db.execute(
            "INSERT INTO accounts (id, organization_id, client_id, integration, provider, type, name, status)"
            " SELECT gen_random_uuid(), $1, ($2::uuid[])[1 + n % 2], 'whatsapp', 'whatsapp', 'whatsapp',"
            "        'n' || n, (ARRAY['connecting', 'connected', 'paused'])[1 + n % 3]"
            " FROM generate_series(1, 200) AS n",
            tenant.organization_id,
            list(tenant.client_ids),
        )
    await db.execute("ANALYZE accounts")
    await db.execute("ANALYZE account_counts")
    await db.execute(
        f"PREPARE total(uuid, uuid, uuid[], text[], text[], text[]) AS {SQL['count_accounts_from_counters']}"
    )
    await db.execute(f"PREPARE truth(uuid, uuid, uuid[], text[], text[], text[]) AS {TRUE_TOTAL}")
    org, client = f"'{a.organization_id}'", f"'{a.client_ids[0]}'"
    assert await db.fetchval("EXECUTE truth(NULL, NULL, NULL, NULL, NULL, NULL)") == 30_000
    for args in [
        f"{org}, NULL, NULL, NULL, NULL, NULL",
        f"{org}, {client}, NULL, NULL, NULL, NULL",
        f"{org}, NULL, ARRAY[{client}]::uuid[], NULL, NULL, '{{paused}}'",
        f"{org}, NULL, NULL, '{{whatsapp}}', '{{whatsapp}}', '{{connected,paused}}'",
        "NULL, NULL, NULL, NULL, NULL, NULL",
    ]:
        assert await db.fetchval(f"EXECUTE total({args})") == await db.fetchval(f"EXECUTE truth({args})")
        nodes = await _plan(db, args)
        relations = {node["Relation Name"] for node in nodes if "Relation Name" in node}
        assert relations == {"account_counts"}, (args, relations)
        scanned = [node for node in nodes if "Relation Name" in node]
        # One counter row per key and shard: 2 organizations x 2 clients x 3 statuses x 16 at most.
        assert all(node["Actual Rows"] <= 2 * 2 * 3 * 16 for node in scanned), (args, scanned)
        blocks = sum(node["Shared Hit Blocks"] + node.get("Shared Read Blocks", 0) for node in scanned)
        assert blocks <= 20, (args, blocks)


async def test_the_bench_seed_counts_every_account_it_inserts(
    database_url: str, db: asyncpg.Connection
) -> None:
    seeded = await bench_seed.seed(database_url, 3_000, 250, say=lambda _: None)
    assert seeded.accounts == 3_000
    await _assert_counters_match(db)
    assert await db.fetchval("SELECT sum(count) FROM account_counts") == 3_250
    pool = await db.fetchval(
        "SELECT sum(count) FROM account_counts WHERE organization_id = $1", bench_seed.DELETE_POOL_ORG
    )
    assert pool == 250
    enabled = await db.fetch(
        "SELECT tgname, tgenabled::text FROM pg_trigger"
        " WHERE tgrelid = 'accounts'::regclass AND NOT tgisinternal"
    )
    assert {row["tgname"]: row["tgenabled"] for row in enabled} == {
        "accounts_count_insert_delete": "O",
        "accounts_count_update": "O",
        "accounts_count_truncate": "O",
    }
    # The bench's DELETE phase: every pool account removed, the pool's total follows.
    await db.execute(
        "UPDATE accounts SET deleted_at = now() WHERE organization_id = $1", bench_seed.DELETE_POOL_ORG
    )
    assert await db.fetchval("SELECT sum(count) FROM account_counts") == 3_000
    await _assert_counters_match(db)
