"""Small helpers for the query shapes every repository class uses."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection


async def fetch_one(conn: AsyncConnection, query, params: Any = None) -> dict | None:
    return await (await conn.execute(query, params)).fetchone()


async def fetch_all(conn: AsyncConnection, query, params: Any = None) -> list[dict]:
    return await (await conn.execute(query, params)).fetchall()
