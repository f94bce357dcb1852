"""Versioned SQL migrations, one PostgreSQL schema per owning service.

Files are named `NNNN_description.sql` and applied in order, each in a savepoint together
with its row in `<schema>.schema_migrations`, all pending ones in one transaction: a failing
migration leaves the schema exactly as it was. An advisory lock serialises
concurrent migrators (several replicas starting at once), so applying is idempotent and
safe to run at every start. An applied file that was later edited is refused: migrations
are append-only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import LiteralString, cast

from psycopg import sql
from psycopg.rows import tuple_row

from beatflow_platform.db.pool import DictConnection
from beatflow_platform.errors import FailedPrecondition
from beatflow_platform.logging import get_logger

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_log = get_logger("beatflow.migrations")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    # Text of a file shipped with the service, never data: psycopg takes only literal SQL strings.
    sql: LiteralString

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(FailedPrecondition):
    pass


def load_migrations(directory: Traversable) -> list[Migration]:
    """Reads and orders the migration files of a directory (a package resource or a path)."""
    migrations = []
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if not match:
            raise MigrationError(f"migration file name {entry.name!r} is not NNNN_description.sql")
        text = cast(LiteralString, entry.read_text(encoding="utf-8"))
        migrations.append(Migration(int(match[1]), match[2], text))
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return migrations


async def migrate(conn: DictConnection, schema: str, migrations: list[Migration]) -> list[Migration]:
    """Applies what is pending for `schema`; returns the migrations it applied."""
    if not _SCHEMA_NAME.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    schema_id = sql.Identifier(schema)
    applied_now = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"beatflow.migrations.{schema}",))
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema_id))
        await conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(schema_id)
        )
        async with conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute(sql.SQL("SELECT version, checksum FROM {}.schema_migrations").format(schema_id))
            applied = dict(await cursor.fetchall())
        for migration in migrations:
            checksum = applied.get(migration.version)
            if checksum is not None:
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"migration {schema}/{migration.version:04d}_{migration.name} changed after it was applied"
                    )
                continue
            async with conn.transaction():
                await conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(schema_id))
                await conn.execute(migration.sql)
                await conn.execute(
                    sql.SQL("INSERT INTO {}.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)").format(
                        schema_id
                    ),
                    (migration.version, migration.name, migration.checksum),
                )
            applied_now.append(migration)
            _log.info("migration applied", schema=schema, version=migration.version, name=migration.name)
    return applied_now
