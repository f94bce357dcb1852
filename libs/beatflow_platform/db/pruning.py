"""Deleting old rows in bounded batches, so that retention never holds a table's locks for long.

Each batch is its own short transaction (the connection must be in autocommit): it picks at most
`batch_size` rows past the cutoff, skipping rows other transactions hold (FOR UPDATE SKIP LOCKED),
and deletes them by physical address (ctid: not every table has a primary key, login_failures has
none). The lock is what makes that safe: a picked row cannot change or move before the delete, and a
row that another transaction changed before it was picked is checked again in its new version.
Addressing by ctid alone also keeps each delete a TID scan of just the picked rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from psycopg import sql
from psycopg.rows import tuple_row

from beatflow_platform.db.pool import DictConnection


@dataclass(frozen=True)
class PruneTarget:
    """Rows of `table` whose `timestamp_column` is older than a cutoff and that meet `condition`."""

    table: str  # schema-qualified, e.g. "vcs.login_failures"
    timestamp_column: str
    condition: sql.Composable = field(default_factory=lambda: sql.SQL("true"))

    @property
    def _identifier(self) -> sql.Identifier:
        return sql.Identifier(*self.table.split("."))

    def _matching(self) -> sql.Composed:
        return sql.SQL("{} < %(cutoff)s AND ({})").format(sql.Identifier(self.timestamp_column), self.condition)

    def delete_batch(self) -> sql.Composed:
        return sql.SQL(
            "DELETE FROM {table} WHERE ctid = ANY(ARRAY("
            "SELECT ctid FROM {table} WHERE {matching} LIMIT %(limit)s FOR UPDATE SKIP LOCKED))"
        ).format(table=self._identifier, matching=self._matching())

    def count(self) -> sql.Composed:
        return sql.SQL("SELECT count(*) FROM {} WHERE {}").format(self._identifier, self._matching())


@dataclass(frozen=True)
class PruneReport:
    """What one prune did to one table (rows deleted, or that would be with dry_run)."""

    table: str
    cutoff: datetime
    rows: int
    batches: int
    dry_run: bool

    def as_json(self) -> str:
        return json.dumps({**asdict(self), "cutoff": self.cutoff.isoformat()})


async def prune(
    conn: DictConnection, target: PruneTarget, older_than: timedelta, *, batch_size: int = 1000, dry_run: bool = False
) -> PruneReport:
    """Deletes (or with `dry_run` counts) the target's rows older than `older_than` on the database's clock."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not conn.autocommit:
        raise ValueError("prune needs an autocommit connection: each batch commits on its own")
    async with conn.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute("SELECT now() - %s", (older_than,))
        row = await cursor.fetchone()
        assert row is not None  # a SELECT without FROM returns one row
        (cutoff,) = row
        params = {"cutoff": cutoff, "limit": batch_size}
        if dry_run:
            await cursor.execute(target.count(), params)
            row = await cursor.fetchone()
            assert row is not None  # an aggregate without GROUP BY returns one row
            (rows,) = row
            return PruneReport(target.table, cutoff, rows, 0, dry_run=True)
        rows = batches = 0
        while True:
            await cursor.execute(target.delete_batch(), params)
            batches += 1
            rows += cursor.rowcount
            if cursor.rowcount < batch_size:
                return PruneReport(target.table, cutoff, rows, batches, dry_run=False)
