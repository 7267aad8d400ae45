"""Real PostgreSQL and Kafka for the suite: configured servers, else containers, else local processes."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.auth.keys import generate_private_key_pem
from service.auth.passwords import Passwords
from service.auth.principal import Principal
from service.auth.tokens import TokenService
from service.crypto import new_key_ring_entry
from service.db.migrate import migrate
from service.settings import Settings, load_settings
from tests import eventing
from tests.eventing import Tenant, connect
from tests.identity import PASSWORD, Tenants, insert_tenant
from tests.integration.accounts_support import Api


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _server_home(name: str) -> Path:
    """A folder for a session's server, outside pytest's temp folders.

    pytest keeps only its three newest session folders; a second session on the same machine would
    otherwise delete the data of a server this session still runs.
    """
    home = Path(tempfile.mkdtemp(prefix=f"accounts-test-{name}-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server URL; the suite creates its own databases on it."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
    elif _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as container:
            yield container.get_connection_url()
    else:
        from devtools.postgres import LocalPostgres

        server = LocalPostgres(_server_home("postgres"), fast=True)
        try:
            yield server.start()
        except Exception as exc:
            pytest.fail(f"no PostgreSQL for the tests: set DATABASE_URL, run Docker, or fix: {exc}")
        finally:
            server.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A Kafka bootstrap address of a real broker."""
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
    elif _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
    else:
        from devtools.kafka import LocalKafka, java_available

        if not java_available():
            pytest.fail(
                "no Kafka for the tests: set KAFKA_BOOTSTRAP_SERVERS, run Docker, or install Java 17+"
            )
        broker = LocalKafka(_server_home("kafka"), port=0)
        try:
            yield broker.start()
        finally:
            broker.stop()


@pytest.fixture
async def own_kafka(tmp_path: Path) -> AsyncIterator[Any]:
    """A broker of the test's own, so stopping or killing it disturbs no other test."""
    from devtools.kafka import LocalKafka

    broker = LocalKafka(tmp_path / "kafka", port=0, progress=lambda _: None)
    await asyncio.to_thread(broker.start)
    try:
        yield broker
    finally:
        await asyncio.to_thread(broker.stop)


@pytest.fixture(scope="session")
async def template_database(postgres_url: str) -> AsyncIterator[str]:
    """A migrated database that every test clones, so each test starts from the same empty schema."""
    name = f"accounts_template_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await migrate(with_database(postgres_url, name))
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def scratch_database(postgres_url: str, prefix: str, template: str | None = None) -> AsyncIterator[str]:
    """The URL of a database of its own for the block (a copy of `template`, else empty), dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    copied = f' TEMPLATE "{template}"' if template else ""
    await admin.execute(f'CREATE DATABASE "{name}"{copied}')
    try:
        yield with_database(postgres_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def database_url(postgres_url: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    async with scratch_database(postgres_url, "accounts_test", template_database) as url:
        yield url


@pytest.fixture(scope="session")
def jwt_private_key() -> str:
    """The suite's token signing key (Ed25519 PEM), made once per session."""
    return generate_private_key_pem()


# The suite's credential key ring: an active key and an older one still able to open credentials.
CREDENTIALS_KEYS = f"{new_key_ring_entry('test2')},{new_key_ring_entry('test1')}"


# Cheap Argon2 for speed; production keeps the strong defaults (see test_tokens_passwords).
TEST_IDENTITY_ENV = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1"}


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, jwt_private_key: str) -> Settings:
    """The service's settings for one test. Kafka is configured only for a test that uses the broker:
    one that asks for `kafka_bootstrap`, or whose module marks every test with
    `pytest.mark.usefixtures("kafka_bootstrap")`. The API never needs it; the others run without."""
    uses_kafka = "kafka_bootstrap" in request.fixturenames
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": request.getfixturevalue("kafka_bootstrap") if uses_kafka else "",
            "DB_POOL_MIN_SIZE": "1",
            "JWT_PRIVATE_KEY": jwt_private_key,
            "CREDENTIALS_KEYS": CREDENTIALS_KEYS,
            **TEST_IDENTITY_ENV,
        }
    )


@pytest.fixture
def token_for(settings: Settings) -> Callable[..., str]:
    """`token_for(principal, ttl=None)`: a bearer token the `client` app accepts."""
    tokens = TokenService.from_settings(settings)

    def issue(principal: Principal, ttl: int | None = None) -> str:
        return tokens.issue(principal, ttl).token

    return issue


@pytest.fixture(scope="session")
def password_hash() -> str:
    """PASSWORD hashed once for the whole session, with the suite's Argon2 cost."""
    return Passwords(1, 1024, 1).hash_sync(PASSWORD)


@pytest.fixture
async def tenants(db: asyncpg.Connection, password_hash: str) -> Tenants:
    """Two organizations (`a`, `b`), each with two clients, an owner, a viewer and an API key."""
    return Tenants(
        a=await insert_tenant(db, "acme", password_hash),
        b=await insert_tenant(db, "globex", password_hash),
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    """An HTTP client talking to the app, with its lifespan (pool, probes) running."""
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test's database, for arranging and checking rows."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test's database that maps jsonb like the service's pool, for event tests."""
    connection = await connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def tenant(conn: asyncpg.Connection) -> Tenant:
    """One organization with one client, inserted directly, for tests that write outbox rows."""
    return await eventing.insert_tenant(conn)


@pytest.fixture
def api(client: AsyncTestClient, token_for: Callable[..., str]) -> Api:  # type: ignore[type-arg]
    """The app's HTTP client with per-principal tokens, for the accounts tests."""
    return Api(client, token_for)
