"""Forward-only SQL migrations, applied in order under an advisory lock, each in its own transaction."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import asyncpg

from service.db.sql import load_queries

_SQL = load_queries("service.db", "migrations.sql")
_FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
# Any constant works; it only has to be the same for every process that migrates this database.
_LOCK_KEY = 0x6163636F756E7473


class MigrationError(Exception):
    """The migrations on disk and those recorded in the database disagree."""


class Migration(NamedTuple):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def default_directory() -> Path:
    """The migrations shipped inside the wheel, or the repository's folder when run from source."""
    packaged = Path(__file__).resolve().parents[1] / "migrations"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "migrations"


def discover(directory: Path) -> list[Migration]:
    """Read `NNNN_name.sql` files in version order; anything else in the folder is an error."""
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text("utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return migrations


async def migrate(
    dsn: str,
    directory: Path | None = None,
    report: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Apply every pending migration; return the names applied (empty when up to date)."""
    migrations = discover(directory or default_directory())
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(_SQL["lock"], _LOCK_KEY)
        try:
            await connection.execute(_SQL["create_table"])
            return await _apply_pending(connection, migrations, report)
        finally:
            await connection.execute(_SQL["unlock"], _LOCK_KEY)
    finally:
        await connection.close()


async def _apply_pending(
    connection: asyncpg.Connection, migrations: list[Migration], report: Callable[[str], None]
) -> list[str]:
    applied = {row["version"]: row["checksum"] for row in await connection.fetch(_SQL["applied"])}
    done: list[str] = []
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None:
            if recorded != migration.checksum:
                raise MigrationError(
                    f"{migration.filename} was changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        report(f"applying {migration.filename}")
        async with connection.transaction():
            await connection.execute(migration.sql)
            await connection.execute(
                _SQL["record"], migration.version, migration.name, migration.checksum
            )
        done.append(migration.filename)
    return done
