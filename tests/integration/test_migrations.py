import re
import uuid
from pathlib import Path

import asyncpg
import pytest

from service.db.migrate import MigrationError, default_directory, discover, migrate
from tests.conftest import scratch_database


@pytest.fixture
async def empty_database(postgres_url: str):
    async with scratch_database(postgres_url, "accounts_empty") as url:
        yield url


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


async def test_account_counts_are_filled_from_the_accounts_already_there(
    empty_database: str, tmp_path: Path
) -> None:
    directory = _copy_migrations(tmp_path / "migrations")
    # The database as it was before the counters: migrations up to 0004 only.
    later = sorted(path.name for path in directory.glob("*.sql") if path.name >= "0005")
    held_back = tmp_path / "held_back"
    held_back.mkdir()
    for name in later:
        (directory / name).rename(held_back / name)
    await migrate(empty_database, directory)
    connection = await asyncpg.connect(empty_database)
    try:
        organizations = [uuid.uuid4(), uuid.uuid4()]
        clients = [(uuid.uuid4(), organization) for organization in organizations for _ in range(2)]
        for organization in organizations:
            await connection.execute("INSERT INTO organizations (id, name) VALUES ($1, 'o')", organization)
        for client, organization in clients:
            await connection.execute(
                "INSERT INTO clients (id, organization_id, name) VALUES ($1, $2, 'c')", client, organization
            )
        # 1,000 accounts over every client, three integrations and every status; one in seven deleted.
        await connection.execute(
            "INSERT INTO accounts (id, organization_id, client_id, integration, provider, type, name, status,"
            " deleted_at)"
            " SELECT gen_random_uuid(), c.organization_id, c.id, i, i, i, 'n',"
            "        (ARRAY['connecting', 'connected', 'disconnected', 'error', 'paused'])[1 + n % 5],"
            "        CASE WHEN n % 7 = 0 THEN now() END"
            " FROM generate_series(1, 1000) AS n"
            " JOIN LATERAL (SELECT * FROM clients ORDER BY id OFFSET n % 4 LIMIT 1) c ON true"
            " CROSS JOIN LATERAL (SELECT (ARRAY['whatsapp', 'linkedin', 'telegram'])[1 + n % 3] AS i) x"
        )
        for name in later:
            (held_back / name).rename(directory / name)
        assert await migrate(empty_database, directory) == later
        grouped = await connection.fetch(
            "SELECT organization_id, client_id, integration, provider, status, count(*) AS count"
            " FROM accounts WHERE deleted_at IS NULL GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        )
        counted = await connection.fetch(
            "SELECT organization_id, client_id, integration, provider, status, sum(count)::bigint AS count"
            " FROM account_counts GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        )
        assert len(grouped) > 40
        assert [tuple(row.values()) for row in counted] == [tuple(row.values()) for row in grouped]
        live = await connection.fetchval("SELECT count(*) FROM accounts WHERE deleted_at IS NULL")
        assert await connection.fetchval("SELECT sum(count) FROM account_counts") == live == 1000 - 142
        # From then on the trigger keeps them.
        await connection.execute("UPDATE accounts SET deleted_at = now() WHERE status = 'error'")
        errors = await connection.fetchval("SELECT sum(count) FROM account_counts WHERE status = 'error'")
        assert errors == 0
    finally:
        await connection.close()
