"""Versioned migrations against a real PostgreSQL database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from beatflow_platform.db.migrations import MigrationError, load_migrations, migrate
from beatflow_platform.db.pool import connect


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)


@pytest.fixture
def migrations_dir(tmp_path) -> Path:
    directory = tmp_path / "migrations"
    write(directory, "0001_tracks.sql", "CREATE TABLE tracks (id serial PRIMARY KEY, title text NOT NULL);")
    write(directory, "0002_track_bpm.sql", "ALTER TABLE tracks ADD COLUMN bpm integer;\nCREATE INDEX ON tracks (bpm);")
    return directory


def tables(dsn: str, schema: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
        return {row[0] for row in rows}


async def test_applies_in_order_and_is_idempotent(database_dsn, migrations_dir):
    migrations = load_migrations(migrations_dir)
    assert [m.version for m in migrations] == [1, 2]
    async with await connect(database_dsn) as conn:
        first = await migrate(conn, "demo", migrations)
        second = await migrate(conn, "demo", migrations)
    assert [m.name for m in first] == ["tracks", "track_bpm"]
    assert second == []
    assert tables(database_dsn, "demo") == {"tracks", "schema_migrations"}
    with psycopg.connect(database_dsn) as conn:
        conn.execute("INSERT INTO demo.tracks (title, bpm) VALUES ('x', 120)")


async def test_new_migration_is_applied_later(database_dsn, migrations_dir):
    async with await connect(database_dsn) as conn:
        await migrate(conn, "demo", load_migrations(migrations_dir))
        write(migrations_dir, "0003_stems.sql", "CREATE TABLE stems (id serial PRIMARY KEY);")
        applied = await migrate(conn, "demo", load_migrations(migrations_dir))
    assert [m.version for m in applied] == [3]
    assert "stems" in tables(database_dsn, "demo")


async def test_failing_migration_leaves_schema_untouched(database_dsn, migrations_dir):
    write(migrations_dir, "0003_broken.sql", "CREATE TABLE fine (id int);\nSELECT no_such_function();")
    async with await connect(database_dsn) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            await migrate(conn, "demo", load_migrations(migrations_dir))
    assert tables(database_dsn, "demo") == set()


async def test_edited_applied_migration_is_refused(database_dsn, migrations_dir):
    async with await connect(database_dsn) as conn:
        await migrate(conn, "demo", load_migrations(migrations_dir))
        write(migrations_dir, "0001_tracks.sql", "CREATE TABLE tracks (id bigserial PRIMARY KEY);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, "demo", load_migrations(migrations_dir))


async def test_concurrent_migrators_apply_once(database_dsn, migrations_dir):
    migrations = load_migrations(migrations_dir)
    connections = [await connect(database_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(conn, "demo", migrations) for conn in connections))
    finally:
        for conn in connections:
            await conn.close()
    assert sorted(len(applied) for applied in results) == [0, 0, 0, 2]


def test_bad_file_names_and_duplicates_are_rejected(tmp_path):
    write(tmp_path / "a", "1_tracks.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_description"):
        load_migrations(tmp_path / "a")
    write(tmp_path / "b", "0001_one.sql", "SELECT 1;")
    write(tmp_path / "b", "0001_two.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="duplicate"):
        load_migrations(tmp_path / "b")


async def test_invalid_schema_name_is_rejected(database_dsn, migrations_dir):
    async with await connect(database_dsn) as conn:
        with pytest.raises(MigrationError, match="invalid schema"):
            await migrate(conn, 'demo"; DROP SCHEMA public; --', load_migrations(migrations_dir))


def test_migrate_all_command_is_idempotent(postgres_cluster):
    import subprocess
    import sys
    import uuid

    name = f"fresh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_cluster.dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {"BEATFLOW_DATABASE_URL": postgres_cluster.dsn(name), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "beatflow_platform.db.migrate_all"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    assert first.startswith("applied ") and not first.startswith("applied 0")
    assert again.strip() == "applied 0 migration(s)"
    assert {"users", "repositories", "commits"} <= tables(postgres_cluster.dsn(name), "vcs")
    assert "jobs" in tables(postgres_cluster.dsn(name), "jobs")
