"""Shared pieces of the security tests: an app under fuzzing, fixed identities, and table counts."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar
from litestar.types import Receive, Scope, Send

from service.app import create_app
from service.auth.api_keys import hash_api_key, new_api_key
from service.auth.principal import Principal, Role
from service.auth.tokens import TokenService
from service.integrations.catalog import SLUGS
from service.settings import Settings, load_settings
from service.web.iri import CLIENT_IRI_PATTERN
from tests.conftest import CREDENTIALS_KEYS, TEST_IDENTITY_ENV, with_database
from tests.identity import WORKER

CLIENT_IRI = re.compile(CLIENT_IRI_PATTERN)
# Tables whose rows a request may change; `outbox` counts the events.
TABLES = (
    "organizations",
    "users",
    "api_keys",
    "clients",
    "accounts",
    "outbox",
    "idempotency_keys",
    "refresh_tokens",
    "token_revocations",
)


@dataclass(frozen=True)
class FuzzWorld:
    """Identities fixed when the test module is imported: schemathesis builds some cases (with their
    credentials) while collecting, before any fixture has run."""

    settings: Settings
    organization_id: uuid.UUID = field(default_factory=uuid.uuid4)
    client_ids: tuple[uuid.UUID, uuid.UUID] = field(default_factory=lambda: (uuid.uuid4(), uuid.uuid4()))
    api_key: str = field(default_factory=new_api_key)

    @property
    def client_iri(self) -> str:
        return f"/api/clients/{self.client_ids[0]}"

    def _token(self, principal: Principal) -> str:
        return TokenService.from_settings(self.settings).issue(principal, 6 * 3600).token

    @property
    def owner_token(self) -> str:
        return self._token(Principal("fuzz-owner", frozenset({Role.OWNER}), self.organization_id))

    @property
    def worker_token(self) -> str:
        return self._token(WORKER)

    @property
    def document(self) -> dict[str, Any]:
        """The OpenAPI document the app serves (it does not depend on the database)."""
        return create_app(self.settings).openapi_schema.to_schema()


def _fuzz_settings() -> Settings:
    placeholder = {
        "DATABASE_URL": "postgresql://localhost/placeholder",
        "JWT_SECRET": secrets.token_urlsafe(32),
        "CREDENTIALS_KEYS": CREDENTIALS_KEYS,
        # Every integration the document names accepts new accounts, so a documented one is never 422.
        "INTEGRATIONS_AVAILABLE": ",".join(SLUGS),
        # The database timeouts answer 503 when the machine, not the API, is slow. On a loaded machine
        # one such 503 in a sequence makes Hypothesis's replay get another answer and report "Flaky"
        # (or "inconsistent data generation") instead of a finding: here they are far beyond any
        # request's time, so the fuzzing sees the API and not the load.
        "DB_ACQUIRE_TIMEOUT": "120",
        "DB_STATEMENT_TIMEOUT_MS": "120000",
        "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": "240000",
    }
    return load_settings(placeholder | TEST_IDENTITY_ENV)


FUZZ = FuzzWorld(_fuzz_settings())


class LateApp:
    """The ASGI app under test, known only once the fixtures have made its database."""

    def __init__(self) -> None:
        self.app: Litestar | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the app under test is not built yet"
        await self.app(scope, receive, send)

    def stop(self) -> None:
        """End the lifespan schemathesis started for this app (it closes the pool)."""
        from schemathesis.python import asgi

        asgi.shutdown_lifespans()
        self.app = None


@asynccontextmanager
async def fuzz_app_for(
    postgres_url: str, template_database: str, kafka_bootstrap: str
) -> AsyncIterator[Litestar]:
    """A database of its own holding FUZZ's organization, and the app on it."""
    name = f"accounts_fuzz_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    try:
        url = with_database(postgres_url, name)
        connection = await asyncpg.connect(url)
        try:
            await insert_fuzz_organization(connection)
        finally:
            await connection.close()
        yield create_app(
            msgspec.structs.replace(FUZZ.settings, database_url=url, kafka_bootstrap_servers=kafka_bootstrap)
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def insert_fuzz_organization(connection: asyncpg.Connection) -> None:
    await connection.execute("INSERT INTO organizations (id, name) VALUES ($1, 'fuzz')", FUZZ.organization_id)
    for index, client_id in enumerate(FUZZ.client_ids):
        await connection.execute(
            "INSERT INTO clients (id, organization_id, name) VALUES ($1, $2, $3)",
            client_id,
            FUZZ.organization_id,
            f"fuzz client {index}",
        )
    await connection.execute(
        "INSERT INTO api_keys (id, organization_id, key_hash) VALUES ($1, $2, $3)",
        uuid.uuid4(),
        FUZZ.organization_id,
        hash_api_key(FUZZ.api_key),
    )


async def row_counts(db: asyncpg.Connection) -> dict[str, int]:
    """Rows per table (TABLES are fixed names, never input)."""
    return {table: await db.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}
