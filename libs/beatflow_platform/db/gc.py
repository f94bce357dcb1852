"""Building blocks of mark-and-sweep garbage collection: the live set, sweepers and what they report.

The mark phase writes the ids it finds live into a temporary table of the collector's session
(`LiveIds`), so memory stays bounded however many there are: ids found by SQL are inserted server-side,
ids from another database are streamed in with COPY. Sweepers then walk their table by keyset pages
and delete, batch by batch in short transactions, what no root names (see beatflow_admin.sweepers).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from psycopg import sql

from beatflow_platform.db.pool import DictConnection

# How a content address (a sha256 in hex) is found inside JSON or serialized protobuf messages.
CONTENT_ADDRESS_PATTERN = "[0-9a-f]{64}"


@dataclass(frozen=True)
class SweepReport:
    """What one sweeper removed (or with dry_run would remove): rows and objects, and their bytes."""

    sweeper: str
    cutoff: datetime
    swept: int
    bytes: int
    batches: int
    dry_run: bool

    def as_json(self) -> str:
        return json.dumps({**asdict(self), "cutoff": self.cutoff.isoformat()})


class Sweeper(Protocol):
    name: str

    async def sweep(self, *, dry_run: bool) -> SweepReport:
        """Deletes what is unreachable and old enough; with dry_run only counts it."""
        ...


class LiveIds:
    """Ids the mark phase found live, in a temporary table (`gc_live` by default) of one autocommit connection.

    Sweepers running on the same connection test membership in SQL with `LiveIds.contains(column)`, or
    ask `missing(ids)`.
    """

    DEFAULT_TABLE = "gc_live"

    def __init__(self, conn: DictConnection, table: str = DEFAULT_TABLE):
        if not conn.autocommit:
            raise ValueError("the collector needs an autocommit connection: each batch commits on its own")
        self._conn = conn
        self.table = table

    async def create(self) -> None:
        table = sql.Identifier(self.table)
        await self._conn.execute(sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {} (id text PRIMARY KEY)").format(table))
        await self._conn.execute(sql.SQL("TRUNCATE {}").format(table))

    async def add_from(self, query: sql.Composable, params: dict | None = None) -> int:
        """Inserts the ids a one-column query yields (run server-side); returns how many were new."""
        cursor = await self._conn.execute(
            sql.SQL(
                "INSERT INTO {} (id) SELECT DISTINCT found.id FROM ({}) AS found (id) ON CONFLICT DO NOTHING"
            ).format(sql.Identifier(self.table), query),
            params,
        )
        return cursor.rowcount

    async def copy_in(self, ids: AsyncIterable[str]) -> int:
        """Streams ids in (e.g. read from another database); duplicates are ignored. Returns how many were new."""
        staging = sql.Identifier(f"{self.table}_incoming")
        await self._conn.execute(sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {} (id text)").format(staging))
        await self._conn.execute(sql.SQL("TRUNCATE {}").format(staging))
        copy_in = sql.SQL("COPY {} (id) FROM STDIN").format(staging)
        async with self._conn.cursor() as cursor, cursor.copy(copy_in) as copy:
            async for found in ids:
                await copy.write_row((found,))
        cursor = await self._conn.execute(
            sql.SQL("INSERT INTO {} (id) SELECT DISTINCT id FROM {} ON CONFLICT DO NOTHING").format(
                sql.Identifier(self.table), staging
            )
        )
        added = cursor.rowcount
        await self._conn.execute(sql.SQL("DROP TABLE {}").format(staging))
        return added

    async def analyze(self) -> None:
        """Statistics for the planner, once the marks are in (sweeps join against the table)."""
        await self._conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(self.table)))

    async def missing(self, ids: list[str]) -> set[str]:
        """Those of `ids` that are not live."""
        cursor = await self._conn.execute(
            sql.SQL("SELECT o.id FROM unnest(%s::text[]) AS o (id) WHERE NOT {}").format(
                self.contains("o.id", self.table)
            ),
            (ids,),
        )
        return {row["id"] for row in await cursor.fetchall()}

    @classmethod
    def contains(cls, column: str, table: str = DEFAULT_TABLE) -> sql.Composed:
        """SQL true when `column` (e.g. "b.id") is a live id of `table`."""
        parts = [sql.Identifier(part) for part in column.split(".")]
        return sql.SQL("EXISTS (SELECT 1 FROM {} live WHERE live.id = {})").format(
            sql.Identifier(table), sql.SQL(".").join(parts)
        )
