"""One real `accounts-service api` process per test module, for clients we did not write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from service.auth.tokens import TokenService
from service.settings import Settings, load_settings
from tests.conftest import CREDENTIALS_KEYS, TEST_IDENTITY_ENV, with_database
from tests.identity import PASSWORD, WORKER, Tenant, insert_tenant
from tests.integration.api_process import ApiProcess, api_environment


@dataclass(frozen=True)
class Served:
    """The running api, its organization, and tokens of its owner and of a worker."""

    base_url: str
    tenant: Tenant
    owner_token: str
    worker_token: str
    password: str = PASSWORD

    def owner(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_token}", **extra}

    def worker(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.worker_token}", **extra}


@pytest.fixture(scope="module")
async def served(
    postgres_url: str, template_database: str, jwt_private_key: str, password_hash: str
) -> AsyncIterator[Served]:
    name = f"accounts_thirdparty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    process: ApiProcess | None = None
    try:
        url = with_database(postgres_url, name)
        connection = await asyncpg.connect(url)
        try:
            tenant = await insert_tenant(connection, "acme", password_hash)
        finally:
            await connection.close()
        settings: Settings = load_settings(
            {
                "DATABASE_URL": url,
                "DB_POOL_MIN_SIZE": "1",
                "JWT_PRIVATE_KEY": jwt_private_key,
                "CREDENTIALS_KEYS": CREDENTIALS_KEYS,
                **TEST_IDENTITY_ENV,
            }
        )
        process = ApiProcess(api_environment(settings))
        await asyncio.to_thread(process.wait_ready)
        tokens = TokenService.from_settings(settings)
        yield Served(
            base_url=process.base_url,
            tenant=tenant,
            owner_token=tokens.issue(tenant.owner, 3600).token,
            worker_token=tokens.issue(WORKER, 3600).token,
        )
    finally:
        if process is not None:
            process.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
