"""The shared connection pool against a real server, including a PostgreSQL restart."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from beatflow_devtools.network import free_port
from beatflow_platform.db.pool import open_pool, ping
from beatflow_platform.settings import DatabaseSettings


async def test_pool_returns_rows_as_dicts(database_dsn):
    pool = await open_pool(DatabaseSettings(url=database_dsn, connect_timeout_seconds=5), application_name="test")
    try:
        await ping(pool)
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT current_setting('application_name') AS app")).fetchone()
        assert row == {"app": "test"}
    finally:
        await pool.close()


async def test_pool_survives_a_postgres_restart(private_postgres):
    settings = DatabaseSettings(url=private_postgres.dsn(), pool_min_size=2, connect_timeout_seconds=5)
    pool = await open_pool(settings, application_name="restart-test")
    try:
        await ping(pool)
        private_postgres.stop(mode="fast")
        with pytest.raises(psycopg.OperationalError):
            async with pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        private_postgres.start(fsync=False)
        await ping(pool)  # stale connections are detected on checkout and replaced
    finally:
        await pool.close()


async def test_unreachable_database_fails_start_up_in_time():
    settings = DatabaseSettings(url=f"postgresql://nobody@127.0.0.1:{free_port()}/none", connect_timeout_seconds=1)
    with pytest.raises(PoolTimeout, match="pool initialization incomplete"):
        await open_pool(settings, application_name="unreachable")
