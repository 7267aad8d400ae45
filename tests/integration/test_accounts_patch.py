"""PATCH as JSON merge patch, the status lifecycle, and optimistic concurrency with ETag / If-Match."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from service.accounts import preconditions
from service.settings import Settings
from service.web import constraints
from tests.identity import WORKER, Tenants
from tests.integration.accounts_support import (
    CANARY,
    JSON,
    MERGE_PATCH,
    Api,
    httpx_json,
    new_account,
    outbox,
    served,
    wait_for_lock_waiters,
)


@pytest.fixture
async def account(api: Api, tenants: Tenants) -> dict[str, Any]:
    return await api.created(tenants.a.owner, new_account(tenants.a, metadata={"team": "sales"}))


def _path(account: dict[str, Any]) -> str:
    return f"/api/accounts/{account['id']}"


async def _events(db: asyncpg.Connection, account: dict[str, Any]) -> list[dict[str, Any]]:
    return await outbox(db, account["id"])


async def test_absent_fields_stay_and_null_removes_optional_ones(
    api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection
) -> None:
    patch = {"headline": None, "avatar": None, "externalId": None, "settings": None}
    patch["metadata"] = {"team": "ops"}
    response = await api.patch(tenants.a.owner, _path(account), patch, JSON)

    assert response.status_code == 200
    body = response.json()
    assert body == account | {
        "headline": None,
        "avatar": None,
        "externalId": None,
        "settings": {},
        "metadata": {"team": "ops"},
        "version": 2,
        "updatedAt": body["updatedAt"],
    }
    [_, updated] = await _events(db, account)
    assert updated["event_type"] == "account.updated"
    assert updated["payload"]["changes"] == ["headline", "avatar", "externalId", "settings", "metadata"]


async def test_a_patch_that_changes_nothing_is_200_without_a_new_version_or_event(
    api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection
) -> None:
    for patch in ({}, {"name": account["name"], "settings": account["settings"]}, {"status": "connecting"}):
        response = await api.patch(tenants.a.owner, _path(account), patch, JSON)
        assert response.status_code == 200
        assert response.json() == account
        assert response.headers["etag"] == 'W/"1"'
    assert len(await _events(db, account)) == 1


@pytest.mark.parametrize(
    ("patch", "detail"),
    [
        ({"client": "/api/clients/x"}, 'Extra attributes are not allowed ("client" is unknown).'),
        ({"integration": "linkedin"}, 'Extra attributes are not allowed ("integration" is unknown).'),
        ({"id": "x"}, 'Extra attributes are not allowed ("id" is unknown).'),
        ({"version": 7}, 'Extra attributes are not allowed ("version" is unknown).'),
        ({"name": None}, 'The type of the "name" attribute must be "str", "null" given.'),
        ({"credentials": None}, 'The type of the "credentials" attribute must be "object", "null" given.'),
        ({"status": "error"}, None),
        ({"status": "connecting"}, None),
        ({"statusReason": "because"}, 'The "statusReason" attribute is read-only; workers report it.'),
        ({"headline": "a\u0000b"}, 'The "headline" attribute must not contain NUL characters.'),
    ],
)
async def test_read_only_and_malformed_fields_are_400(
    api: Api, tenants: Tenants, db: asyncpg.Connection, patch: dict[str, Any], detail: str | None
) -> None:
    account = await api.created(tenants.a.owner, new_account(tenants.a))
    await db.execute("UPDATE accounts SET status = 'connected'")
    response = await api.patch(tenants.a.customer, _path(account), patch)
    assert response.status_code == 400, response.text
    if detail:
        assert response.json()["detail"] == detail
    assert len(await _events(db, account)) == 1


async def test_patch_violations_are_422(api: Api, tenants: Tenants, account: dict[str, Any]) -> None:
    patch = {"name": "", "avatar": "ftp://x.example.com/a", "credentials": {"phoneNumberId": "1"}}
    response = await api.patch(tenants.a.owner, _path(account), patch)
    assert response.status_code == 422
    assert [(v["propertyPath"], v["code"]) for v in response.json()["violations"]] == [
        ("name", constraints.NOT_BLANK),
        ("avatar", constraints.INVALID_URL),
    ]
    response = await api.patch(tenants.a.owner, _path(account), {"credentials": {"phoneNumberId": "1"}})
    assert [(v["propertyPath"], v["code"]) for v in response.json()["violations"]] == [
        ("credentials[accessToken]", constraints.MISSING_FIELD)
    ]


async def test_changing_to_a_taken_external_id_is_422(
    api: Api, tenants: Tenants, account: dict[str, Any]
) -> None:
    other = await api.created(tenants.a.owner, new_account(tenants.a, externalId="+15555550199"))
    response = await api.patch(tenants.a.owner, _path(other), {"externalId": account["externalId"]})
    assert response.status_code == 422
    assert response.json()["violations"] == [
        {"propertyPath": "externalId", "message": constraints.ALREADY_USED, "code": constraints.NOT_UNIQUE}
    ]


async def test_owners_pause_and_resume_and_workers_report(
    api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection
) -> None:
    path = _path(account)

    connected = await api.patch(WORKER, path, {"status": "connected"}, JSON)
    assert connected.status_code == 200
    assert (connected.json()["status"], connected.json()["statusReason"]) == ("connected", None)
    failed = await api.patch(WORKER, path, {"status": "disconnected", "statusReason": "token expired"}, JSON)
    assert (failed.json()["status"], failed.json()["statusReason"]) == ("disconnected", "token expired")
    paused = await api.patch(tenants.a.customer, path, {"status": "paused"}, JSON)
    assert (paused.json()["status"], paused.json()["statusReason"]) == ("paused", None)

    refused = await api.patch(WORKER, path, {"status": "connected"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == "The account is paused; its owner or customer must resume it first."

    resumed = await api.patch(tenants.a.owner, path, {"status": "connecting"}, JSON)
    assert resumed.json()["status"] == "connecting" and resumed.json()["version"] == 5
    events = await _events(db, account)
    assert [e["payload"].get("changes") for e in events] == [
        None,
        ["status"],
        ["status", "statusReason"],
        ["status", "statusReason"],
        ["status"],
    ]
    assert [e["account_version"] for e in events] == [1, 2, 3, 4, 5]


async def test_workers_may_only_report_status(api: Api, tenants: Tenants, account: dict[str, Any]) -> None:
    path = _path(account)
    response = await api.patch(WORKER, path, {"status": "connected", "name": "hijacked"})
    assert response.status_code == 400
    assert response.json()["detail"] == 'Extra attributes are not allowed ("name" is unknown).'
    response = await api.patch(WORKER, path, {"status": "asleep"})
    assert response.status_code == 422
    assert response.json()["violations"][0]["propertyPath"] == "status"
    response = await api.patch(WORKER, path, {"status": "paused"})
    assert response.status_code == 422
    response = await api.patch(WORKER, path, {"statusReason": "x" * 1001})
    assert response.status_code == 422


async def test_new_credentials_return_the_account_to_connecting_without_showing_them(
    api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection
) -> None:
    path = _path(account)
    await api.patch(WORKER, path, {"status": "error", "statusReason": "banned"})
    replacement = {"phoneNumberId": "2222", "accessToken": f"new-{CANARY}"}

    response = await api.patch(tenants.a.owner, path, {"credentials": replacement}, JSON)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["statusReason"]) == ("connecting", None)
    assert CANARY not in response.text
    last = (await _events(db, account))[-1]
    assert last["payload"]["changes"] == ["credentials", "status", "statusReason"]
    assert CANARY not in str(last)
    secrets = await api.get(WORKER, f"{path}/credentials", JSON)
    assert secrets.json() == {"credentials": replacement}


async def test_if_match(api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection) -> None:
    path = _path(account)
    for stale in ('W/"7"', '"0"', "nonsense"):
        response = await api.patch(tenants.a.owner, path, {"name": "x"}, **{"If-Match": stale})
        assert response.status_code == 412
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (await api.delete(tenants.a.owner, path, **{"If-Match": stale})).status_code == 412
    for version, tag in enumerate(('W/"1"', '"2"', "*", '"9", W/"4"'), start=2):
        response = await api.patch(tenants.a.owner, path, {"name": f"v{version}"}, JSON, **{"If-Match": tag})
        assert response.status_code == 200, tag
        assert response.headers["etag"] == f'W/"{version}"'
    assert len(await _events(db, account)) == 5
    assert (await api.delete(tenants.a.owner, path, **{"If-Match": 'W/"5"'})).status_code == 204


async def test_two_patches_with_one_etag_one_wins_one_is_412(
    api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection, settings: Settings
) -> None:
    path = _path(account)
    etag = (await api.get(tenants.a.owner, path)).headers["etag"]
    async with served(settings) as http:
        transaction = db.transaction()
        await transaction.start()
        # Hold the row so both requests are in flight, waiting on it, before either may proceed.
        await db.execute("SELECT 1 FROM accounts WHERE id = $1::uuid FOR UPDATE", account["id"])
        conditional = {"Content-Type": MERGE_PATCH, "If-Match": etag}
        requests = [
            asyncio.create_task(
                http.patch(
                    path, content=httpx_json({"name": name}), headers=api.headers(who, JSON, **conditional)
                )
            )
            for who, name in ((tenants.a.owner, "first"), (tenants.a.customer, "second"))
        ]
        await wait_for_lock_waiters(db, 2)
        await transaction.commit()
        responses = await asyncio.gather(*requests)

    assert sorted(r.status_code for r in responses) == [200, 412]
    winner = next(r for r in responses if r.status_code == 200)
    loser = next(r for r in responses if r.status_code == 412)
    assert winner.headers["etag"] == 'W/"2"'
    assert loser.json()["detail"] == preconditions.STALE
    assert (await api.get(tenants.a.owner, path, JSON)).json()["name"] == winner.json()["name"]
    assert [e["account_version"] for e in await _events(db, account)] == [1, 2]


async def test_concurrent_patches_without_if_match_apply_one_after_the_other(
    api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection, settings: Settings
) -> None:
    path = _path(account)
    headers = api.headers(tenants.a.owner, JSON) | {"Content-Type": MERGE_PATCH}
    async with served(settings) as http:
        responses = await asyncio.gather(
            *(http.patch(path, content=httpx_json({"metadata": {"n": n}}), headers=headers) for n in range(5))
        )
    assert all(r.status_code == 200 for r in responses)
    assert sorted(r.json()["version"] for r in responses) == [2, 3, 4, 5, 6]
    assert [e["account_version"] for e in await _events(db, account)] == [1, 2, 3, 4, 5, 6]


async def _while_another_writer_commits(
    db: asyncpg.Connection, account: dict[str, Any], request: Any
) -> Any:
    """Run `request` while another transaction changes the account (a new version) and holds its row,
    then commit that change: the request's first write finds a newer version than it read."""
    transaction = db.transaction()
    await transaction.start()
    await db.execute(
        "UPDATE accounts SET headline = 'from elsewhere', version = version + 1 WHERE id = $1::uuid",
        account["id"],
    )
    task = asyncio.create_task(request)
    await wait_for_lock_waiters(db, 1)
    await transaction.commit()
    return await task


async def test_a_patch_applies_on_top_of_a_change_committed_after_its_read(
    api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection, settings: Settings
) -> None:
    headers = api.headers(tenants.a.owner, JSON) | {"Content-Type": MERGE_PATCH}
    async with served(settings) as http:
        patch = http.patch(_path(account), content=httpx_json({"name": "renamed"}), headers=headers)
        response = await _while_another_writer_commits(db, account, patch)

    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["name"], body["headline"]) == (3, "renamed", "from elsewhere")
    events = await _events(db, account)
    assert [e["account_version"] for e in events] == [1, 3]
    assert events[-1]["payload"] == {key: body[key] for key in events[-1]["payload"] if key != "changes"} | {
        "changes": ["name"]
    }


async def test_a_delete_goes_through_a_change_committed_after_its_read_unless_if_match_is_stale(
    api: Api, tenants: Tenants, account: dict[str, Any], db: asyncpg.Connection, settings: Settings
) -> None:
    conditional = api.headers(tenants.a.owner, JSON, **{"If-Match": 'W/"1"'})
    async with served(settings) as http:
        delete = http.delete(_path(account), headers=conditional)
        stale = await _while_another_writer_commits(db, account, delete)
        assert stale.status_code == 412
        removed = await http.delete(_path(account), headers=api.headers(tenants.a.owner, JSON))

    assert removed.status_code == 204
    events = await _events(db, account)
    assert [(e["event_type"], e["account_version"]) for e in events] == [
        ("account.connected", 1),
        ("account.removed", 3),
    ]
    assert events[-1]["payload"]["headline"] == "from elsewhere"
