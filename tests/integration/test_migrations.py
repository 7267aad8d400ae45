import re
import uuid
from pathlib import Path

import asyncpg
import pytest

from service.db.migrate import MigrationError, default_directory, discover, migrate
from tests.conftest import with_database


@pytest.fixture
async def empty_database(postgres_url: str):
    name = f"accounts_empty_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(postgres_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _copy_migrations(target: Path) -> Path:
    target.mkdir()
    for migration in discover(default_directory()):
        (target / migration.filename).write_text(migration.sql)
    return target


async def test_empty_database_gets_every_migration_then_rerun_is_a_no_op(empty_database: str) -> None:
    expected = [m.filename for m in discover(default_directory())]
    assert await migrate(empty_database) == expected
    assert await migrate(empty_database) == []
    connection = await asyncpg.connect(empty_database)
    try:
        tables = {r["tablename"] for r in await connection.fetch("SELECT tablename FROM pg_tables")}
        recorded = await connection.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await connection.close()
    assert {"organizations", "users", "api_keys", "clients", "accounts", "outbox"} <= tables
    assert recorded == len(expected)


async def test_changed_applied_migration_is_refused(empty_database: str, tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path / "migrations")
    await migrate(empty_database, directory)
    first = sorted(directory.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=rf"{re.escape(first.name)} was changed after it was applied"):
        await migrate(empty_database, directory)


async def test_failing_migration_rolls_back_and_is_not_recorded(empty_database: str, tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path / "migrations")
    (directory / "9999_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(empty_database, directory)
    connection = await asyncpg.connect(empty_database)
    try:
        assert await connection.fetchval("SELECT to_regclass('half_done')") is None
        assert await connection.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9999") == 0
    finally:
        await connection.close()


async def test_badly_named_file_is_refused(tmp_path: Path) -> None:
    directory = _copy_migrations(tmp_path / "migrations")
    (directory / "add-things.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"must be named NNNN_name\.sql"):
        discover(directory)
