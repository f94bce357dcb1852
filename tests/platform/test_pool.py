"""The shared connection pool against a real server, including a PostgreSQL restart."""

from __future__ import annotations

import asyncio
import os
import resource
import socket

import psycopg
import pytest
from psycopg_pool import PoolTimeout

from beatflow_devtools.network import free_port
from beatflow_platform.db.pool import DictPool, _readable, open_pool, ping
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


async def test_a_connection_the_server_ended_is_replaced_and_a_quiet_one_costs_no_round_trip(database_dsn, monkeypatch):
    checks = []
    original = DictPool.check_connection

    async def counted(conn):
        checks.append(conn.info.backend_pid)
        await original(conn)

    monkeypatch.setattr(DictPool, "check_connection", staticmethod(counted))
    settings = DatabaseSettings(url=database_dsn, pool_min_size=1, pool_max_size=1, connect_timeout_seconds=5)
    pool = await open_pool(settings, application_name="stale-test")
    try:
        async with pool.connection() as conn:
            first_pid = conn.info.backend_pid
        async with pool.connection() as conn:
            assert conn.info.backend_pid == first_pid
        assert checks == [], "an idle connection with nothing to read is handed out without a round trip"
        async with await psycopg.AsyncConnection.connect(database_dsn, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
        await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled socket
        async with pool.connection() as conn:
            row = await (await conn.execute("SELECT pg_backend_pid() AS pid")).fetchone()
        assert checks == [first_pid], "the ended connection was checked"
        assert row is not None and row["pid"] != first_pid, "and replaced by a new one"
    finally:
        await pool.close()


async def test_unreachable_database_fails_start_up_in_time():
    settings = DatabaseSettings(url=f"postgresql://nobody@127.0.0.1:{free_port()}/none", connect_timeout_seconds=1)
    with pytest.raises(PoolTimeout, match="pool initialization incomplete"):
        await open_pool(settings, application_name="unreachable")


def test_a_socket_numbered_beyond_what_select_can_watch_is_still_checked():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("this process may not open descriptors above 2047")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    ours, peer = socket.socketpair()
    high = os.dup2(ours.fileno(), 1500)
    try:
        assert not _readable(high), "a quiet socket"
        peer.close()
        assert _readable(high), "its peer hung up"
    finally:
        os.close(high)
        ours.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
