"""The embedded inbox in a real browser: a page on the organization's own origin lists, connects and
removes a client's accounts with a customer token; the same calls from another origin are blocked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page

from service.settings import Settings
from tests.browser.support import chromium, static_site
from tests.identity import Tenants
from tests.integration.accounts_support import new_account, served

PAGE = ("text/html; charset=utf-8", b"<!doctype html><title>inbox</title><h1>Embedded inbox</h1>")

# What the inbox does, in the page: every call is a cross-origin fetch() with the customer's token.
CONNECT_AND_REMOVE = """async ({api, token, account}) => {
  const auth = {Authorization: `Bearer ${token}`};
  const listed = await (await fetch(`${api}/api/accounts`, {headers: auth})).json();
  const created = await fetch(`${api}/api/accounts`, {method: "POST", body: JSON.stringify(account),
    headers: {...auth, "Content-Type": "application/ld+json", "Idempotency-Key": "inbox-connect-1"}});
  const location = created.headers.get("Location"), etag = created.headers.get("ETag");
  const after = await (await fetch(`${api}/api/accounts`, {headers: auth})).json();
  const removed = await fetch(`${api}${location}`, {method: "DELETE", headers: {...auth, "If-Match": etag}});
  const gone = await fetch(`${api}${location}`, {headers: auth});
  return {before: listed.totalItems, created: created.status, location, etag, after: after.totalItems,
          removed: removed.status, gone: gone.status};
}"""
ONE_CALL = """async ({api, token}) => {
  try {
    const answer = await fetch(`${api}/api/accounts`, {headers: {Authorization: `Bearer ${token}`}});
    return `answered ${answer.status}`;
  } catch (error) { return `rejected: ${error.name}`; }
}"""


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


async def _page_at(browser: Browser, origin: str) -> Page:
    page = await browser.new_page()
    await page.goto(f"{origin}/inbox.html")
    return page


async def test_inbox_page_works_from_its_organizations_origin_only(
    browser: Browser,
    settings: Settings,
    tenants: Tenants,
    token_for: Callable[..., str],
    db: asyncpg.Connection,
) -> None:
    customer = token_for(tenants.a.customer)
    with static_site({"/inbox.html": PAGE}) as inbox, static_site({"/inbox.html": PAGE}) as elsewhere, \
            static_site({"/inbox.html": PAGE}) as stranger:  # fmt: skip
        async with served(settings) as api:
            for tenant, origin in ((tenants.a, inbox), (tenants.b, elsewhere)):
                allowed = await api.patch(
                    f"/api/organizations/{tenant.organization_id}",
                    json={"allowedOrigins": [origin]},
                    headers={"X-API-KEY": tenant.api_key, "Content-Type": "application/merge-patch+json"},
                )
                assert allowed.status_code == 200, allowed.text
            base = str(api.base_url).rstrip("/")

            page = await _page_at(browser, inbox)
            account: dict[str, Any] = new_account(externalId="+15550123")
            arguments = {"api": base, "token": customer, "account": account}
            done = await page.evaluate(CONNECT_AND_REMOVE, arguments)
            assert done["before"] == 0 and done["created"] == 201 and done["after"] == 1, done
            assert done["location"].startswith("/api/accounts/") and done["etag"] == 'W/"1"'
            assert done["removed"] == 204 and done["gone"] == 404
            assert await db.fetchval("SELECT count(*) FROM accounts WHERE deleted_at IS NULL") == 0

            # Organization b's page with organization a's token, and a page nobody allows: blocked.
            for origin in (elsewhere, stranger):
                other = await _page_at(browser, origin)
                outcome = await other.evaluate(ONE_CALL, {"api": base, "token": customer})
                assert outcome == "rejected: TypeError", (origin, outcome)
                await other.close()
            # The same call from the allowed page still answers: the refusals above are the origins'.
            assert await page.evaluate(ONE_CALL, {"api": base, "token": customer}) == "answered 200"
            await page.close()
