"""The collection: page and cursor pagination, filters, orderings, and plans that do not grow with depth."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from service.db.sql import load_queries
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import JSON, Api, client_iri, new_account

SQL = load_queries("service.accounts", "queries.sql")


async def _seed(api: Api, tenants: Tenants, names: list[str]) -> list[dict[str, Any]]:
    """Accounts of tenant a's first client, created in this order."""
    return [
        await api.created(tenants.a.owner, new_account(tenants.a, name=name, externalId=str(index)))
        for index, name in enumerate(names)
    ]


async def _page(api: Api, tenants: Tenants, query: str, who: Any = None) -> dict[str, Any]:
    response = await api.get(who or tenants.a.owner, f"/api/accounts?{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _names(body: dict[str, Any]) -> list[str]:
    return [member["name"] for member in body["member"]]


async def test_page_number_pagination_edges(api: Api, tenants: Tenants) -> None:
    await _seed(api, tenants, ["a1", "a2", "a3", "a4", "a5"])

    first = await _page(api, tenants, "itemsPerPage=2")
    assert _names(first) == ["a1", "a2"] and first["totalItems"] == 5
    assert first["view"] == {
        "@id": "/api/accounts?itemsPerPage=2&page=1",
        "@type": "PartialCollectionView",
        "first": "/api/accounts?itemsPerPage=2&page=1",
        "last": "/api/accounts?itemsPerPage=2&page=3",
        "next": "/api/accounts?itemsPerPage=2&page=2",
    }
    middle = await _page(api, tenants, "itemsPerPage=2&page=2")
    assert _names(middle) == ["a3", "a4"]
    assert middle["view"]["previous"] == "/api/accounts?itemsPerPage=2&page=1"
    assert middle["view"]["next"] == "/api/accounts?itemsPerPage=2&page=3"
    last = await _page(api, tenants, "itemsPerPage=2&page=3")
    assert _names(last) == ["a5"] and "next" not in last["view"]
    beyond = await _page(api, tenants, "itemsPerPage=2&page=9")
    assert beyond["member"] == [] and beyond["totalItems"] == 5
    assert beyond["view"]["last"] == "/api/accounts?itemsPerPage=2&page=3"
    everything = await _page(api, tenants, "itemsPerPage=100")
    assert len(everything["member"]) == 5 and "next" not in everything["view"]
    default = await _page(api, tenants, "")
    assert default["view"]["@id"] == "/api/accounts?page=1"


async def test_plain_json_pages_are_bare_arrays_with_link_headers(api: Api, tenants: Tenants) -> None:
    await _seed(api, tenants, ["a1", "a2", "a3"])
    response = await api.get(tenants.a.owner, "/api/accounts?itemsPerPage=2&page=2", JSON)
    assert [m["name"] for m in response.json()] == ["a3"]
    assert response.headers["link"] == (
        '</api/accounts?itemsPerPage=2&page=1>; rel="first", '
        '</api/accounts?itemsPerPage=2&page=1>; rel="prev", '
        '</api/accounts?itemsPerPage=2&page=2>; rel="last", '
        # Every /api answer also links to its Hydra documentation, by absolute URL.
        f'<{api.http.base_url}/api/docs.jsonld>; rel="http://www.w3.org/ns/hydra/core#apiDocumentation"'
    )


async def test_empty_collection(api: Api, tenants: Tenants) -> None:
    body = await _page(api, tenants, "")
    assert body["member"] == [] and body["totalItems"] == 0
    assert body["view"]["last"] == "/api/accounts?page=1" and "next" not in body["view"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("itemsPerPage=0", 'Query parameter "itemsPerPage" must be between 1 and 100.'),
        ("itemsPerPage=101", 'Query parameter "itemsPerPage" must be between 1 and 100.'),
        ("itemsPerPage=ten", 'Query parameter "itemsPerPage" must be an integer.'),
        ("page=0", None),
        ("page=-1", None),
        ("page=x", 'Query parameter "page" must be an integer.'),
        ("order[name]=sideways", 'Query parameter "order[name]" must be "asc" or "desc".'),
        ("order[createdAt]=", 'Query parameter "order[createdAt]" must be "asc" or "desc".'),
        ("order[name]=asc&order[createdAt]=desc", "Only one order[...] parameter may be given."),
        ("cursor=&page=2", 'Query parameters "page" and "cursor" cannot be combined.'),
        ("cursor=%%%", "The cursor is invalid."),
        ("name=%00", "Query parameters must not contain NUL characters."),
        (
            "status=connected&status=conected",
            '"status" takes one of: connecting, connected, disconnected, error, paused.',
        ),
        ("status[]=", None),
        ("integration=whatsapp&integration[]=/api/integrations/nope", None),
    ],
)
async def test_bad_queries_are_400(api: Api, tenants: Tenants, query: str, detail: str | None) -> None:
    response = await api.get(tenants.a.owner, f"/api/accounts?{query}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if detail:
        assert response.json()["detail"] == detail


async def test_filters(api: Api, tenants: Tenants, db: asyncpg.Connection) -> None:
    accounts = await _seed(api, tenants, ["Michael Scott", "Dwight Schrute", "Jim Halpert", "50%_off"])
    other_client = await api.created(tenants.a.owner, new_account(tenants.a, 1, name="Pam Beesly"))
    await api.created(tenants.b.owner, new_account(tenants.b, name="Michael of Globex"))
    ids = [a["id"] for a in accounts]
    await db.execute(
        "UPDATE accounts SET integration = 'linkedin', provider = 'linkedin', type = 'linkedin'"
        " WHERE id = ANY($1::uuid[])",
        ids[1:3],
    )
    await db.execute("UPDATE accounts SET status = 'error' WHERE id = $1::uuid", ids[2])
    await db.execute("UPDATE accounts SET status = 'paused' WHERE id = $1::uuid", ids[3])

    async def names(query: str) -> list[str]:
        return _names(await _page(api, tenants, query))

    assert await names("integration=whatsapp") == ["Michael Scott", "50%_off", "Pam Beesly"]
    assert await names("integration=/api/integrations/linkedin") == ["Dwight Schrute", "Jim Halpert"]
    both = ["Michael Scott", "Dwight Schrute", "Jim Halpert", "50%_off", "Pam Beesly"]
    assert await names("integration=whatsapp&integration=linkedin") == both
    assert await names("integration[]=whatsapp&integration[]=/api/integrations/linkedin") == both
    assert await names("integration=telegram") == []
    assert await names("provider=linkedin") == ["Dwight Schrute", "Jim Halpert"]
    assert await names("status=error&status=paused") == ["Jim Halpert", "50%_off"]
    assert await names("status[]=connecting") == ["Michael Scott", "Dwight Schrute", "Pam Beesly"]
    assert await names(f"client={client_iri(tenants.a, 1)}") == ["Pam Beesly"]
    assert await names(f"client={tenants.a.client_ids[1]}") == ["Pam Beesly"]
    assert await names(f"client={client_iri(tenants.b)}") == []
    assert await names("client=nonsense") == []
    assert await names("name=sCHr") == ["Dwight Schrute"]
    assert await names("name=%25_") == ["50%_off"]
    assert await names("name=_") == ["50%_off"]
    assert await names("name=michael") == ["Michael Scott"]
    assert await names("name=") == both
    assert await names("provider=linkedin&status=connecting") == ["Dwight Schrute"]
    filtered = await _page(api, tenants, "provider=linkedin&itemsPerPage=1")
    assert filtered["totalItems"] == 2
    assert filtered["view"]["next"] == "/api/accounts?provider=linkedin&itemsPerPage=1&page=2"
    assert other_client["name"] == "Pam Beesly"


async def test_orderings(api: Api, tenants: Tenants) -> None:
    await _seed(api, tenants, ["b", "a", "c"])
    assert _names(await _page(api, tenants, "order[name]=asc")) == ["a", "b", "c"]
    assert _names(await _page(api, tenants, "order[name]=DESC")) == ["c", "b", "a"]
    assert _names(await _page(api, tenants, "order[createdAt]=desc")) == ["c", "a", "b"]
    assert _names(await _page(api, tenants, "order[createdAt]=asc")) == ["b", "a", "c"]
    assert _names(await _page(api, tenants, "order[other]=desc")) == ["b", "a", "c"]


async def test_customers_see_their_client_and_workers_see_every_organization(
    api: Api, tenants: Tenants
) -> None:
    await api.created(tenants.a.owner, new_account(tenants.a, 0, name="mine"))
    await api.created(tenants.a.owner, new_account(tenants.a, 1, name="sibling"))
    await api.created(tenants.b.owner, new_account(tenants.b, 0, name="globex"))

    assert _names(await _page(api, tenants, "", tenants.a.customer)) == ["mine"]
    assert _names(await _page(api, tenants, f"client={client_iri(tenants.a, 1)}", tenants.a.customer)) == []
    assert _names(await _page(api, tenants, "", tenants.a.viewer)) == ["mine", "sibling"]
    assert _names(await _page(api, tenants, "", tenants.b.owner)) == ["globex"]
    assert sorted(_names(await _page(api, tenants, "", WORKER))) == ["globex", "mine", "sibling"]


def _cursor_of(link: str) -> str:
    return parse_qs(urlsplit(link).query, keep_blank_values=True)["cursor"][0]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("", ["m", "b", "x", "a", "k", "b"]),
        ("&order[createdAt]=desc", ["b", "k", "a", "x", "b", "m"]),
        ("&order[name]=asc", ["a", "b", "b", "k", "m", "x"]),
        ("&order[name]=desc", ["x", "m", "k", "b", "b", "a"]),
    ],
)
async def test_cursor_pagination_walks_every_account_once(
    api: Api, tenants: Tenants, order: str, expected: list[str]
) -> None:
    await _seed(api, tenants, ["m", "b", "x", "a", "k", "b"])
    seen: list[str] = []
    query = f"itemsPerPage=4{order}&cursor="
    pages = 0
    while True:
        body = await _page(api, tenants, query)
        pages += 1
        assert "totalItems" not in body and "last" not in body["view"]
        assert body["view"]["first"].endswith("cursor=")
        seen += _names(body)
        if "next" not in body["view"]:
            break
        query = urlsplit(body["view"]["next"]).query
        assert _cursor_of(body["view"]["next"])
    assert seen == expected
    assert pages == 2


async def test_cursor_pages_follow_filters_and_plain_json_has_a_link(api: Api, tenants: Tenants) -> None:
    created = await _seed(api, tenants, ["a", "b", "c", "d"])
    await api.patch(tenants.a.owner, f"/api/accounts/{created[1]['id']}", {"status": "paused"})
    response = await api.get(tenants.a.owner, "/api/accounts?status=connecting&itemsPerPage=2&cursor=", JSON)
    assert [m["name"] for m in response.json()] == ["a", "c"]
    next_link = response.headers["link"].split(", ")[1]
    assert next_link.endswith('>; rel="next"')
    following = await api.get(tenants.a.owner, next_link[1 : next_link.index(">")], JSON)
    assert [m["name"] for m in following.json()] == ["d"]
    assert 'rel="next"' not in following.headers["link"]


async def test_a_cursor_belongs_to_its_order_and_cannot_be_forged(api: Api, tenants: Tenants) -> None:
    await _seed(api, tenants, ["a", "b", "c"])
    body = await _page(api, tenants, "itemsPerPage=1&cursor=")
    cursor = _cursor_of(body["view"]["next"])
    other_order = f"/api/accounts?itemsPerPage=1&order[name]=asc&cursor={cursor}"
    response = await api.get(tenants.a.owner, other_order)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "The cursor belongs to another order; start again with an empty cursor."
    )
    for forged in (cursor[:-2], cursor + "A", "AAAA", "bm90IG1zZ3BhY2s"):
        response = await api.get(tenants.a.owner, f"/api/accounts?cursor={forged}")
        assert response.status_code == 400, forged
        assert response.json()["detail"] == "The cursor is invalid."


async def _bulk_insert(
    db: asyncpg.Connection, organization_id: uuid.UUID, client_id: uuid.UUID, count: int
) -> None:
    await db.execute(
        "INSERT INTO accounts"
        " (id, organization_id, client_id, integration, provider, type, name, external_id, created_at)"
        " SELECT gen_random_uuid(), $1, $2, 'whatsapp', 'whatsapp', 'whatsapp', 'account ' || n, n::text,"
        "        now() - make_interval(secs => n)"
        " FROM generate_series(1, $3) AS n",
        organization_id,
        client_id,
        count,
    )
    await db.execute("ANALYZE accounts")


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


@pytest.mark.parametrize(
    "query_name", ["list_created_asc", "list_created_desc", "list_name_asc", "list_name_desc"]
)
async def test_cursor_pages_read_the_same_few_index_entries_at_any_depth(
    db: asyncpg.Connection, tenants: Tenants, query_name: str
) -> None:
    """EXPLAIN ANALYZE of the page query, first page and 4,500 rows deep, among 35,000 accounts."""
    await _bulk_insert(db, tenants.a.organization_id, tenants.a.client_ids[0], 5_000)
    await _bulk_insert(db, tenants.b.organization_id, tenants.b.client_ids[0], 30_000)
    by_name = query_name.startswith("list_name")
    column, direction = ("name" if by_name else "created_at"), ("DESC" if query_name.endswith("desc") else "")
    rows = await db.fetch(
        f"SELECT id, created_at, name FROM accounts WHERE organization_id = $1"
        f" ORDER BY {column} {direction}, id {direction}",
        tenants.a.organization_id,
    )
    key_type = "text" if by_name else "timestamptz"
    await db.execute(
        f"PREPARE page(uuid, uuid, uuid[], text[], text[], text[], text, {key_type}, uuid, int, int)"
        f" AS {SQL[query_name]}"
    )

    async def explain(after: asyncpg.Record | None) -> list[dict[str, Any]]:
        value = None if after is None else after["name"] if by_name else after["created_at"].isoformat()
        key = "NULL" if value is None else f"'{value}'"
        after_id = "NULL" if after is None else f"'{after['id']}'"
        args = f"'{tenants.a.organization_id}', NULL, NULL, NULL, NULL, NULL, NULL, {key}, {after_id}, 0, 31"
        # Past its first executions PostgreSQL may switch to a generic plan: that one must be good too.
        for _ in range(6):
            await db.execute(f"EXECUTE page({args})")
        raw = await db.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE page({args})")
        return _plan_nodes(json.loads(raw)[0]["Plan"])

    for after in (None, rows[10], rows[4_500]):
        nodes = await explain(after)
        kinds = {node["Node Type"] for node in nodes}
        assert "Sort" not in kinds and "Seq Scan" not in kinds and "Bitmap Heap Scan" not in kinds, kinds
        [scan] = [node for node in nodes if node["Node Type"] == "Index Scan"]
        detail = {key: scan.get(key) for key in ("Index Name", "Index Cond", "Rows Removed by Filter")}
        # The keyset is a seek into the index (an index condition), never a filter over skipped rows...
        if after is not None:
            assert "ROW(" in (scan.get("Index Cond") or ""), detail
        # ...so a page reads about a page of entries wherever it starts (other tenants' rows interleaved
        # in the same index are at most a bounded share: here 6 of theirs per row of this tenant).
        assert scan["Actual Rows"] == 31
        assert scan.get("Rows Removed by Filter", 0) <= 31 * 7, detail
        assert scan["Shared Hit Blocks"] + scan.get("Shared Read Blocks", 0) < 300, detail
