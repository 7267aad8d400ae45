"""API Platform Admin, bundled from tests/js/admin with esbuild, manages the service in headless
Chromium: it reads the Hydra documentation, lists and shows accounts, and lists, creates, edits and
deletes a client, from an origin the organization allows."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, Page, Response, expect
from playwright.async_api import Error as PlaywrightError

from service.settings import Settings
from tests.browser.support import chromium, static_site
from tests.identity import Tenants
from tests.integration.accounts_support import new_account, served

JS = Path(__file__).resolve().parents[1] / "js"
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>Accounts admin</title></head>
<body><div id="root"></div><script src="/admin.js"></script></body></html>"""
# Where to keep a screenshot of the client list (the README's is made this way); unset: a temp dir.
SCREENSHOT = os.environ.get("ADMIN_SCREENSHOT")
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


async def _open(page: Page, admin: str, api: str, token: str, route: str) -> None:
    """Load the Admin afresh at `route`: no state of the previous step's screens carries over."""
    await page.goto("about:blank")
    await page.goto(f"{admin}/admin.html?api={api}&token={token}#{route}")


async def test_admin_manages_clients_and_shows_accounts(
    browser: Browser,
    bundle: bytes,
    settings: Settings,
    tenants: Tenants,
    token_for: Callable[..., str],
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    owner = token_for(tenants.a.owner)
    files = {"/admin.html": ("text/html; charset=utf-8", PAGE), "/admin.js": ("text/javascript", bundle)}
    with static_site(files) as admin:
        async with served(settings) as http:
            key = {"X-API-KEY": tenants.a.api_key}
            allowed = await http.patch(
                f"/api/organizations/{tenants.a.organization_id}",
                json={"allowedOrigins": [admin]},
                headers=key | {"Content-Type": "application/merge-patch+json"},
            )
            assert allowed.status_code == 200, allowed.text
            account = await http.post("/api/accounts", json=new_account(tenants.a), headers=key)
            assert account.status_code == 201, account.text
            api = str(http.base_url).rstrip("/")
            page = await browser.new_page(viewport={"width": 1280, "height": 720})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            writes: list[str] = []

            async def record(response: Response) -> None:
                if response.request.method in {"POST", "PATCH", "PUT", "DELETE"}:
                    sent = response.request.post_data or ""
                    try:
                        answer = (await response.text())[:300]
                    except PlaywrightError:  # no body (204), or the page moved on
                        answer = ""
                    request = f"{response.request.method} {response.url} {sent}"
                    writes.append(f"{request} -> {response.status} {answer}")

            page.on("response", record)

            # List: the organization's two clients, read through the Hydra documentation.
            await _open(page, admin, api, owner, "/clients")
            await expect(page.get_by_text("acme client 0").first).to_be_visible(timeout=TIMEOUT)
            await expect(page.get_by_text("acme client 1").first).to_be_visible()
            shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "admin-clients.png"
            await page.screenshot(path=str(shot))

            # Create.
            await _open(page, admin, api, owner, "/clients/create")
            await page.get_by_label("name").first.fill("Made in the Admin")
            await page.get_by_label("website").first.fill("https://admin.example")
            await page.get_by_role("button", name="Save").click()
            created = await _poll(db, "SELECT id FROM clients WHERE name = 'Made in the Admin'")
            assert created is not None, writes

            # Edit.
            await _open(page, admin, api, owner, f"/clients/%2Fapi%2Fclients%2F{created}")
            name = page.get_by_label("name").first
            await expect(name).to_have_value("Made in the Admin", timeout=TIMEOUT)
            await name.fill("Renamed in the Admin")
            await page.get_by_role("button", name="Save").click()
            renamed = "SELECT name FROM clients WHERE id = $1 AND name LIKE 'Renamed%'"
            assert await _poll(db, renamed, created), writes

            # Delete.
            await _open(page, admin, api, owner, f"/clients/%2Fapi%2Fclients%2F{created}")
            shown = page.get_by_label("name").first
            await expect(shown).to_have_value("Renamed in the Admin", timeout=TIMEOUT)
            await page.get_by_role("button", name="Delete").click()
            confirm = page.get_by_role("button", name="Confirm")
            if await confirm.count():
                await confirm.click()
            gone = "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM clients WHERE id = $1)"
            assert await _poll(db, gone, created), writes

            # Accounts: listed and shown.
            await _open(page, admin, api, owner, "/accounts")
            await expect(page.get_by_text("Michael Scott").first).to_be_visible(timeout=TIMEOUT)
            await _open(page, admin, api, owner, f"/accounts/%2Fapi%2Faccounts%2F{account.json()['id']}/show")
            await expect(page.get_by_text("+15555550100").first).to_be_visible(timeout=TIMEOUT)
            await _open(page, admin, api, owner, f"/accounts/%2Fapi%2Faccounts%2F{account.json()['id']}")
            await expect(page.get_by_label("name").first).to_have_value("Michael Scott", timeout=TIMEOUT)
            await page.get_by_role("button", name="Delete").click()
            confirm = page.get_by_role("button", name="Confirm")
            if await confirm.count():
                await confirm.click()
            removed = "SELECT 1 FROM accounts WHERE id = $1::uuid AND deleted_at IS NOT NULL"
            assert await _poll(db, removed, account.json()["id"]), writes
            assert problems == []
            await page.close()
    assert shot.stat().st_size > 10_000


async def _poll(db: asyncpg.Connection, query: str, *args: object) -> object:
    """The query's first value once it has one (the Admin saves asynchronously); None after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (value := await db.fetchval(query, *args)) is not None:
            return value
        await asyncio.sleep(0.1)
    return None
