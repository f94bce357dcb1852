"""Small helpers for the query shapes every repository class uses."""

from __future__ import annotations

from psycopg.abc import Params, QueryNoTemplate
from psycopg.rows import DictRow

from beatflow_platform.db.pool import DictConnection


async def fetch_one(conn: DictConnection, query: QueryNoTemplate, params: Params | None = None) -> DictRow | None:
    return await (await conn.execute(query, params)).fetchone()


async def fetch_all(conn: DictConnection, query: QueryNoTemplate, params: Params | None = None) -> list[DictRow]:
    return await (await conn.execute(query, params)).fetchall()
