"""The sweep phase of blob garbage collection: blobs no root names, and renders past their retention.

Each sweeper walks its table by keyset pages of `batch_size` candidates (nothing is held in memory
beyond a page) and deletes a page in one short transaction:

1. lock the candidates' rows, skipping those another transaction holds (a commit inserting a stem
   that names a blob holds its row through the foreign key: such a blob is skipped, not waited for);
2. check them again in a new statement, which sees everything committed until the locks were taken:
   still unreferenced and still old;
3. delete the rows, then the objects, while the locks are held, and commit.

A commit that names a blob while it is being collected waits for its row and then finds none: it
fails (BLOB_NOT_FOUND, or the foreign key) and points at nothing. The object store is only asked to
delete objects whose rows are gone within the same transaction; if the transaction fails after that,
the rows stay behind for blobs that nothing names and the next collection removes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from psycopg import sql

from beatflow_platform.db.gc import LiveIds, SweepReport
from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.objectstore import ObjectStore

DELETE_CONCURRENCY = 8

_UNREFERENCED_BLOB = sql.SQL(
    "b.last_uploaded_at < %(cutoff)s"
    " AND NOT EXISTS (SELECT 1 FROM vcs.commit_stems s WHERE s.blob_id = b.id)"
    " AND NOT EXISTS (SELECT 1 FROM vcs.renders r WHERE r.object_id = b.id)"
    " AND NOT {live}"
).format(live=LiveIds.contains("b.id"))
_BLOB_CANDIDATES = sql.SQL(
    "SELECT b.id, b.size_bytes FROM vcs.blobs b WHERE b.id > %(after)s AND {unreferenced} ORDER BY b.id LIMIT %(limit)s"
).format(unreferenced=_UNREFERENCED_BLOB)
_LOCK_BLOBS = "SELECT id FROM vcs.blobs WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE SKIP LOCKED"
_STILL_UNREFERENCED = sql.SQL(
    "SELECT b.id, b.size_bytes FROM vcs.blobs b WHERE b.id = ANY(%(ids)s) AND {unreferenced}"
).format(unreferenced=_UNREFERENCED_BLOB)

_RENDER_CANDIDATES = (
    "SELECT render_key, size_bytes FROM vcs.renders WHERE render_key > %(after)s AND created_at < %(cutoff)s"
    " ORDER BY render_key LIMIT %(limit)s"
)
# Locks and re-checks in one statement: the age is a column of the locked row itself.
_DELETE_RENDERS = (
    "DELETE FROM vcs.renders WHERE render_key = ANY(ARRAY("
    "SELECT render_key FROM vcs.renders WHERE render_key = ANY(%(keys)s) AND created_at < %(cutoff)s"
    " FOR UPDATE SKIP LOCKED)) RETURNING object_id, size_bytes"
)
# A render's file may be shared with another render or hold the same bytes as a blob.
_UNNAMED_OBJECTS = (
    "SELECT DISTINCT o.id FROM unnest(%(ids)s::text[]) AS o (id)"
    " WHERE NOT EXISTS (SELECT 1 FROM vcs.renders r WHERE r.object_id = o.id)"
    " AND NOT EXISTS (SELECT 1 FROM vcs.blobs b WHERE b.id = o.id)"
)


async def cutoff(conn: DictConnection, age: timedelta) -> datetime:
    """now() - age on the database's clock."""
    row = await fetch_one(conn, "SELECT now() - %s AS cutoff", (age,))
    assert row is not None  # a SELECT without FROM returns one row
    return row["cutoff"]


async def delete_each(names: list[str], delete: Callable[[str], Awaitable[bool | None]]) -> list[str]:
    """Calls `delete` for each name, DELETE_CONCURRENCY at a time (the stores' deletes of missing objects
    succeed); the names deleted: all but those whose `delete` answered False (it spared them)."""
    slots = asyncio.Semaphore(DELETE_CONCURRENCY)

    async def one(name: str) -> bool:
        async with slots:
            return await delete(name) is not False

    deleted = await asyncio.gather(*(one(name) for name in names))
    return [name for name, gone in zip(names, deleted, strict=True) if gone]


class BlobSweeper:
    """Blobs (vcs.blobs rows, their grants and their objects) that no commit, job or render names and whose
    last upload is older than `grace`."""

    name = "vcs.blobs"

    def __init__(self, conn: DictConnection, store: ObjectStore, *, grace: timedelta, batch_size: int):
        self._conn = conn
        self._store = store
        self._grace = grace
        self._batch_size = batch_size

    async def sweep(self, *, dry_run: bool) -> SweepReport:
        before = await cutoff(self._conn, self._grace)
        swept = size = batches = 0
        after = ""
        while True:
            params = {"after": after, "cutoff": before, "limit": self._batch_size}
            candidates = await fetch_all(self._conn, _BLOB_CANDIDATES, params)
            if candidates:
                after = candidates[-1]["id"]
                deleted = candidates if dry_run else await self._delete([c["id"] for c in candidates], before)
                swept += len(deleted)
                size += sum(row["size_bytes"] for row in deleted)
                batches += not dry_run
            if len(candidates) < self._batch_size:
                return SweepReport(self.name, before, swept, size, batches, dry_run)

    async def _delete(self, ids: list[str], before: datetime) -> list[dict]:
        async with self._conn.transaction():
            locked = [row["id"] for row in await fetch_all(self._conn, _LOCK_BLOBS, {"ids": ids})]
            doomed = await fetch_all(self._conn, _STILL_UNREFERENCED, {"ids": locked, "cutoff": before})
            doomed_ids = [row["id"] for row in doomed]
            await self._conn.execute("DELETE FROM vcs.blob_grants WHERE blob_id = ANY(%s)", (doomed_ids,))
            await self._conn.execute("DELETE FROM vcs.blobs WHERE id = ANY(%s)", (doomed_ids,))
            await delete_each(doomed_ids, self._store.delete)
        return doomed


class RenderSweeper:
    """Cached commit mixdowns rendered longer ago than `retention`: the row, and the file unless another render
    or a blob names the same object. The next request renders the mix again.

    Renders are not swept by reachability: every render mixes the stems of a stored commit, and commits
    are never deleted, so no render becomes unreachable; what grows without bound is the variety of mixes
    (gains, mutes, solos, formats), which an age limit bounds.
    """

    name = "vcs.renders"

    def __init__(self, conn: DictConnection, store: ObjectStore, *, retention: timedelta, batch_size: int):
        self._conn = conn
        self._store = store
        self._retention = retention
        self._batch_size = batch_size

    async def sweep(self, *, dry_run: bool) -> SweepReport:
        before = await cutoff(self._conn, self._retention)
        swept = size = batches = 0
        after = ""
        while True:
            params = {"after": after, "cutoff": before, "limit": self._batch_size}
            candidates = await fetch_all(self._conn, _RENDER_CANDIDATES, params)
            if candidates:
                after = candidates[-1]["render_key"]
                deleted = candidates if dry_run else await self._delete([c["render_key"] for c in candidates], before)
                swept += len(deleted)
                size += sum(row["size_bytes"] for row in deleted)
                batches += not dry_run
            if len(candidates) < self._batch_size:
                return SweepReport(self.name, before, swept, size, batches, dry_run)

    async def _delete(self, keys: list[str], before: datetime) -> list[dict]:
        async with self._conn.transaction():
            deleted = await fetch_all(self._conn, _DELETE_RENDERS, {"keys": keys, "cutoff": before})
            objects = sorted({row["object_id"] for row in deleted})
            unnamed = await fetch_all(self._conn, _UNNAMED_OBJECTS, {"ids": objects})
            await delete_each([row["id"] for row in unnamed], self._store.delete)
        return deleted
