"""The async connection pool every service uses (psycopg 3 + psycopg_pool)."""

from __future__ import annotations

import select
from typing import TypeAlias

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from beatflow_platform.settings import DatabaseSettings

# Every connection opened here returns rows as dicts (`row_factory=dict_row`); these aliases say so
# to the type checker, whose default for a bare AsyncConnection is tuple rows.
DictConnection: TypeAlias = AsyncConnection[DictRow]
DictPool: TypeAlias = AsyncConnectionPool[DictConnection]


async def open_pool(settings: DatabaseSettings, *, application_name: str) -> DictPool:
    """Opens a pool and waits for its first connection.

    Connections are checked before they are handed out (`check_if_stale`), so a restarted PostgreSQL costs
    a reconnect rather than an error on the next call.
    """
    pool = AsyncConnectionPool(
        settings.url.get_secret_value(),
        connection_class=DictConnection,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        kwargs={"application_name": application_name, "row_factory": dict_row},
        check=check_if_stale,
        timeout=settings.acquire_timeout_seconds,
        open=False,
    )
    await pool.open(wait=True, timeout=settings.connect_timeout_seconds)
    return pool


async def check_if_stale(conn: DictConnection) -> None:
    """Raises for a pooled connection the server has ended, so the pool replaces it.

    An idle connection has nothing to read: a server that ends it (a restart, `pg_terminate_backend`, an
    idle timeout) sends an error and closes the socket, which makes it readable. Only then is the round trip
    of psycopg's own check paid; a quiet socket is handed out as it is, which saves every call a round trip.
    A connection whose peer vanished without a word (a host gone from the network) shows nothing here: its
    next query fails, as it would have after a check that passed a moment before.
    """
    if conn.closed or _readable(conn.fileno()):
        await DictPool.check_connection(conn)


def _readable(fd: int) -> bool:
    """Whether `fd` has something to read (or has been closed by its peer), without waiting. poll, not select:
    select cannot watch a descriptor numbered above 1023, which a busy service's sockets reach."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


async def ping(pool: DictPool) -> None:
    """Readiness check: one round trip to the database."""
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")


async def connect(dsn: str) -> DictConnection:
    """A single connection outside any pool (migrations, admin tasks)."""
    return await DictConnection.connect(dsn, autocommit=True, row_factory=dict_row)
