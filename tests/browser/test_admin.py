"""API Platform Admin, bundled from tests/js/admin with esbuild, manages the service in headless
Chromium: it reads the Hydra documentation; lists, creates, edits and deletes a client; lists, shows,
creates, edits and deletes accounts, from an origin the organization allows."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, Response, expect
from playwright.async_api import Error as PlaywrightError

from service.settings import Settings
from tests.browser.support import chromium, static_site
from tests.identity import WORKER, Tenant, Tenants
from tests.integration.accounts_support import new_account, served

JS = Path(__file__).resolve().parents[1] / "js"
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Accounts admin</title></head>
<body><div id="root"></div><script src="/admin.js"></script></body></html>"""
# Where to keep screenshots (the README's are made this way: ADMIN_SCREENSHOTS=docs); unset: a temp dir.
SCREENSHOTS = os.environ.get("ADMIN_SCREENSHOTS")
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    esbuild = JS / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        pytest.fail("esbuild is missing: run `npm ci --prefix tests/js --no-audit --no-fund`")
    out = tmp_path_factory.mktemp("admin") / "admin.js"
    subprocess.run(
        [str(esbuild), "admin/app.jsx", "--bundle", "--minify", "--format=iife", "--jsx=automatic",
         "--loader:.jsx=jsx", "--define:process.env.NODE_ENV=\"production\"", f"--outfile={out}",
         "--log-level=warning"],
        cwd=JS, check=True, timeout=300,
    )  # fmt: skip
    yield out.read_bytes()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


@dataclass
class Admin:
    """The Admin's page, opened by an owner of `tenant`, and the service it manages."""

    page: Page
    http: httpx.AsyncClient
    tenant: Tenant
    origin: str
    api: str
    token: str
    writes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> dict[str, str]:
        return {"X-API-KEY": self.tenant.api_key}

    async def open(self, route: str) -> None:
        """Load the Admin afresh at `route`: no state of the previous step's screens carries over."""
        await self.page.goto("about:blank")
        await self.page.goto(f"{self.origin}/admin.html?api={self.api}&token={self.token}#{route}")

    async def delete_shown(self) -> None:
        await self.page.get_by_role("button", name="Delete").click()
        confirm = self.page.get_by_role("button", name="Confirm")
        if await confirm.count():
            await confirm.click()

    async def record(self, response: Response) -> None:
        """Every write the Admin sends, with the answer, for the assertion messages."""
        if response.request.method in {"POST", "PATCH", "PUT", "DELETE"}:
            sent = response.request.post_data or ""
            try:
                answer = (await response.text())[:300]
            except PlaywrightError:  # no body (204), or the page moved on
                answer = ""
            request = f"{response.request.method} {response.url} {sent}"
            self.writes.append(f"{request} -> {response.status} {answer}")


@asynccontextmanager
async def admin_of(
    browser: Browser, bundle: bytes, settings: Settings, tenant: Tenant, token: str
) -> AsyncIterator[Admin]:
    """The service, and the Admin served from a second origin that the tenant allows."""
    files = {"/admin.html": ("text/html; charset=utf-8", PAGE), "/admin.js": ("text/javascript", bundle)}
    with static_site(files) as origin:
        async with served(settings) as http:
            allowed = await http.patch(
                f"/api/organizations/{tenant.organization_id}",
                json={"allowedOrigins": [origin]},
                headers={"X-API-KEY": tenant.api_key, "Content-Type": "application/merge-patch+json"},
            )
            assert allowed.status_code == 200, allowed.text
            page = await browser.new_page(viewport={"width": 1280, "height": 720})
            admin = Admin(page, http, tenant, origin, str(http.base_url).rstrip("/"), token)
            page.on("pageerror", lambda error: admin.problems.append(str(error)))
            page.on("response", admin.record)
            try:
                yield admin
            finally:
                await page.close()
            assert admin.problems == []


def screenshot(tmp_path: Path, name: str) -> Path:
    return Path(SCREENSHOTS) / name if SCREENSHOTS else tmp_path / name


async def test_admin_manages_clients_and_shows_accounts(
    browser: Browser, bundle: bytes, settings: Settings, tenants: Tenants, token_for: Callable[..., str],
    db: asyncpg.Connection, tmp_path: Path,
) -> None:  # fmt: skip
    shot = screenshot(tmp_path, "admin-clients.png")
    async with admin_of(browser, bundle, settings, tenants.a, token_for(tenants.a.owner)) as admin:
        page = admin.page
        account = await admin.http.post("/api/accounts", json=new_account(tenants.a), headers=admin.key)
        assert account.status_code == 201, account.text

        # List: the organization's two clients, read through the Hydra documentation.
        await admin.open("/clients")
        await expect(page.get_by_text("acme client 0").first).to_be_visible(timeout=TIMEOUT)
        await expect(page.get_by_text("acme client 1").first).to_be_visible()
        await page.screenshot(path=str(shot))

        # Create.
        await admin.open("/clients/create")
        await page.get_by_label("name").first.fill("Made in the Admin")
        await page.get_by_label("website").first.fill("https://admin.example")
        await page.get_by_role("button", name="Save").click()
        created = await _poll(db, "SELECT id FROM clients WHERE name = 'Made in the Admin'")
        assert created is not None, admin.writes

        # Edit.
        await admin.open(f"/clients/%2Fapi%2Fclients%2F{created}")
        name = page.get_by_label("name").first
        await expect(name).to_have_value("Made in the Admin", timeout=TIMEOUT)
        await name.fill("Renamed in the Admin")
        await page.get_by_role("button", name="Save").click()
        renamed = "SELECT name FROM clients WHERE id = $1 AND name LIKE 'Renamed%'"
        assert await _poll(db, renamed, created), admin.writes

        # Delete.
        await admin.open(f"/clients/%2Fapi%2Fclients%2F{created}")
        await expect(page.get_by_label("name").first).to_have_value("Renamed in the Admin", timeout=TIMEOUT)
        await admin.delete_shown()
        gone = "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM clients WHERE id = $1)"
        assert await _poll(db, gone, created), admin.writes

        # Accounts: listed, shown and deleted.
        item = f"/accounts/%2Fapi%2Faccounts%2F{account.json()['id']}"
        await admin.open("/accounts")
        await expect(page.get_by_text("Michael Scott").first).to_be_visible(timeout=TIMEOUT)
        await admin.open(f"{item}/show")
        await expect(page.get_by_text("+15555550100").first).to_be_visible(timeout=TIMEOUT)
        await admin.open(item)
        await expect(page.get_by_label("name").first).to_have_value("Michael Scott", timeout=TIMEOUT)
        await admin.delete_shown()
        removed = "SELECT 1 FROM accounts WHERE id = $1::uuid AND deleted_at IS NOT NULL"
        assert await _poll(db, removed, account.json()["id"]), admin.writes
    assert shot.stat().st_size > 10_000


async def test_admin_creates_and_edits_an_account(
    browser: Browser, bundle: bytes, settings: Settings, tenants: Tenants, token_for: Callable[..., str],
    db: asyncpg.Connection, tmp_path: Path,
) -> None:  # fmt: skip
    tenant = tenants.a
    shot = screenshot(tmp_path, "admin-accounts.png")
    async with admin_of(browser, bundle, settings, tenant, token_for(tenant.owner)) as admin:
        page = admin.page

        # Create: the client and the integration are picked from their collections (reference inputs).
        await admin.open("/accounts/create")
        await _choose(page, "client", "acme client 1")
        await _choose(page, "integration", "WhatsApp")
        await page.get_by_label("name").first.fill("Dwight Schrute")
        await page.get_by_label("External").first.fill("+15555550123")
        credentials = {"phoneNumberId": "2233445566", "accessToken": "made-in-the-admin"}
        await page.get_by_label("Credentials").first.fill(json.dumps(credentials))
        await page.get_by_label("Settings").first.fill('{"receive": true, "send": false}')
        await page.get_by_role("button", name="Save").click()
        created = await _poll(db, "SELECT id::text FROM accounts WHERE name = 'Dwight Schrute'")
        assert created is not None, admin.writes
        shown = await admin.http.get(f"/api/accounts/{created}", headers=admin.key)
        assert shown.status_code == 200, shown.text
        expected = {
            "client": f"/api/clients/{tenant.client_ids[1]}",
            "integration": "/api/integrations/whatsapp",
            "externalId": "+15555550123",
            "settings": {"receive": True, "send": False},
            "metadata": {},
            "status": "connecting",
            "version": 1,
        }
        assert {key: shown.json()[key] for key in expected} == expected
        worker = {"Authorization": f"Bearer {token_for(WORKER)}"}  # only workers read credentials
        secret = await admin.http.get(f"/api/accounts/{created}/credentials", headers=worker)
        assert secret.json()["credentials"] == credentials, secret.text

        # Edit: a merge patch of what was changed; client and integration are fixed once created.
        await admin.open(f"/accounts/%2Fapi%2Faccounts%2F{created}")
        name = page.get_by_label("name").first
        await expect(name).to_have_value("Dwight Schrute", timeout=TIMEOUT)
        await name.fill("Dwight K. Schrute")
        await page.get_by_label("Headline").first.fill("Assistant to the Regional Manager")
        await page.get_by_label("Metadata").first.fill('{"desk": 2}')
        await page.get_by_label("Status", exact=True).fill("paused")
        await page.get_by_role("button", name="Save").click()
        edited = "SELECT version FROM accounts WHERE id = $1::uuid AND version > 1"
        assert await _poll(db, edited, created), admin.writes
        after = (await admin.http.get(f"/api/accounts/{created}", headers=admin.key)).json()
        assert after["name"] == "Dwight K. Schrute"
        assert after["headline"] == "Assistant to the Regional Manager"
        assert after["metadata"] == {"desk": 2}
        assert after["status"] == "paused"
        assert after["settings"] == expected["settings"] and after["client"] == expected["client"]
        assert after["version"] == 2, admin.writes

        # The list shows the edited account, its client labelled by name (schema.org's, in the docs).
        await admin.open("/accounts")
        row = page.get_by_role("row").filter(has_text="Dwight K. Schrute")
        await expect(row).to_be_visible(timeout=TIMEOUT)
        await expect(row.get_by_text("acme client 1")).to_be_visible(timeout=TIMEOUT)
        await page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


async def _choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the reference input `label` (a select filled from the referenced collection)."""
    await page.get_by_label(label).first.click()
    await page.get_by_role("option", name=option).click()
    await expect(page.get_by_role("option", name=option)).to_have_count(0)


async def _poll(db: asyncpg.Connection, query: str, *args: object) -> object:
    """The query's first value once it has one (the Admin saves asynchronously); None after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (value := await db.fetchval(query, *args)) is not None:
            return value
        await asyncio.sleep(0.1)
    return None
