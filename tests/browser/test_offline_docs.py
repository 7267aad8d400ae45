"""The API docs render in a browser that can reach nothing but the service: every asset is its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Route, expect

from service.settings import Settings
from tests.browser.support import chromium
from tests.integration.accounts_support import served

OPERATIONS = (
    "Retrieves the collection of Account resources.",
    "Creates a Client resource.",
    "Updates the Organization resource.",
)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as running:
        yield running


async def test_swagger_ui_renders_without_any_other_host(browser: Browser, settings: Settings) -> None:
    async with served(settings) as api:
        context = await browser.new_context()
        refused: list[str] = []
        problems: list[str] = []

        async def loopback_only(route: Route) -> None:
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                await route.continue_()
            else:
                refused.append(route.request.url)
                await route.abort("internetdisconnected")

        await context.route("**/*", loopback_only)
        page = await context.new_page()
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        answer = await page.goto(f"{api.base_url}/api/docs")
        assert answer is not None and answer.status == 200
        for summary in OPERATIONS:
            await expect(page.get_by_text(summary, exact=True).first).to_be_visible(timeout=30_000)
        assert await page.locator(".opblock").count() >= 10
        assert refused == [] and problems == [], (refused, problems)
        await context.close()


async def test_assets_carry_integrity_and_a_policy(settings: Settings) -> None:
    async with served(settings) as api:
        page = await api.get("/api/docs")
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "http://" not in html and "https://" not in html
        assert html.count('integrity="sha384-') == 3 and "Content-Security-Policy" in html
        bundle = await api.get("/api/docs/assets/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and len(bundle.content) > 500_000
        assert "script-src 'self'" in bundle.headers["content-security-policy"]
        for missing in ("/api/docs/assets/../../etc/passwd", "/api/docs/assets/LICENSE", "/api/docs/scalar"):
            assert (await api.get(missing)).status_code == 404, missing
