"""create_app builds what is not injected; what is injected is what the app uses."""

from __future__ import annotations

import httpx
import msgspec
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.auth.tokens import TokenService
from service.db.pool import Database
from service.settings import Settings
from tests.identity import Tenants


async def test_the_injected_database_and_clock_are_the_ones_the_app_uses(
    settings: Settings, tenants: Tenants
) -> None:
    now = [1_900_000_000.0]
    tokens = TokenService.from_settings(settings, clock=lambda: now[0])
    bearer = {"Authorization": f"Bearer {tokens.issue(tenants.a.owner, ttl=60).token}"}
    # A pool of its own size, so the metrics tell which pool the app uses.
    database = Database.from_settings(msgspec.structs.replace(settings, db_pool_max_size=3))
    await database.open()
    app = create_app(settings, database=database, tokens=tokens)
    try:
        # The app runs in this event loop, where the injected pool lives.
        async with app.lifespan(), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://app"
        ) as http:
            assert (await http.get("/api/clients", headers=bearer)).status_code == 200
            now[0] += 3600
            expired = await http.get("/api/clients", headers=bearer)
            assert (expired.status_code, expired.json()["message"]) == (401, "Expired JWT Token")
            assert "accounts_db_pool_max_connections 3.0" in (await http.get("/metrics")).text
        # An open database belongs to whoever opened it: the app leaves it open.
        assert database.is_open
        async with database.connection() as connection:
            assert await connection.fetchval("SELECT 1") == 1
    finally:
        await database.close()


async def test_a_database_the_app_opens_is_closed_when_it_stops(settings: Settings) -> None:
    database = Database.from_settings(settings)
    async with AsyncTestClient(app=create_app(settings, database=database)) as http:
        assert (await http.get("/readyz")).status_code == 200
        assert database.is_open
    assert not database.is_open
