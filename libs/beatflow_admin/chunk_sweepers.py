"""Sweepers of the chunking object store (beatflow_platform.objectstore.chunked): packs of chunks, and entries
of the chunk index, that no remaining object's manifest references.

They run after the blob and render sweepers, so every object still named by a vcs.blobs or vcs.renders
row is live. The packs (or chunks) their manifests reference are marked in a temporary table (one
manifest read per object, streamed in with COPY); the store's packs (or index entries) are then listed
and those neither marked nor modified within the grace period are deleted, a page at a time. An upload
that reuses a chunk of a pack untouched for `REFRESH_REUSED_AFTER` moves the pack's modification time
to now, so a grace period longer than that plus the longest upload spares every pack an upload is about
to reference, and packs and index entries an upload has just written; a pack is checked again just before
it is deleted, so one touched after it was listed is spared too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from beatflow_admin.sweepers import cutoff, delete_each
from beatflow_platform.db.gc import LiveIds, SweepReport
from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.queries import fetch_all
from beatflow_platform.objectstore.chunked import ChunkedAudioStore
from beatflow_platform.objectstore.named import ObjectInfo

_LIVE_BLOBS = "SELECT id FROM vcs.blobs WHERE id > %(after)s ORDER BY id LIMIT %(limit)s"
_LIVE_RENDERS = (
    "SELECT DISTINCT object_id AS id FROM vcs.renders WHERE object_id > %(after)s ORDER BY object_id LIMIT %(limit)s"
)


@dataclass(frozen=True)
class _Kind:
    """What a sweeper collects in the store: how an object names it, how to list and delete it."""

    name: str
    referenced: Callable[[ChunkedAudioStore, str], AsyncIterator[str]]
    stored: Callable[[ChunkedAudioStore], AsyncIterator[ObjectInfo]]
    # (store, name, cutoff): deletes unless the object changed since the cutoff (False when it spared it).
    delete: Callable[[ChunkedAudioStore, str, datetime], Awaitable[bool | None]]


PACKS = _Kind(
    "objects.packs",
    ChunkedAudioStore.referenced_packs,
    ChunkedAudioStore.stored_packs,
    lambda store, pack_id, before: store.delete_pack(pack_id, unless_modified_since=before),
)
# An index entry deleted under an upload costs nothing but a missed dedup: the manifest names the pack.
CHUNK_INDEX = _Kind(
    "objects.chunk_index",
    ChunkedAudioStore.referenced_chunks,
    ChunkedAudioStore.stored_chunks,
    lambda store, chunk_id, _before: store.delete_chunk(chunk_id),
)


class ChunkStoreSweeper:
    """Packs (`PACKS`: the bytes) or chunk-index entries (`CHUNK_INDEX`) no remaining object references, last
    modified longer ago than `grace`."""

    def __init__(
        self, conn: DictConnection, store: ChunkedAudioStore, kind: _Kind, *, grace: timedelta, batch_size: int
    ):
        self.name = kind.name
        self._conn = conn
        self._store = store
        self._kind = kind
        self._grace = grace
        self._batch_size = batch_size

    async def sweep(self, *, dry_run: bool) -> SweepReport:
        before = await cutoff(self._conn, self._grace)
        live = LiveIds(self._conn, f"gc_live_{self.name.rsplit('.', 1)[-1]}")
        await live.create()
        async for objects in self._live_objects():
            await live.copy_in(self._referenced_by(objects))
        await live.analyze()
        swept = size = batches = 0
        async for page in _pages(self._kind.stored(self._store), self._batch_size):
            old = {info.name: info for info in page if info.modified_at < before}
            dead = [old[name] for name in sorted(await live.missing(sorted(old)))] if old else []
            if dead and not dry_run:
                deleted = set(
                    await delete_each(
                        [info.name for info in dead], lambda name: self._kind.delete(self._store, name, before)
                    )
                )
                dead = [info for info in dead if info.name in deleted]
                batches += 1
            swept += len(dead)
            size += sum(info.size for info in dead)
        return SweepReport(self.name, before, swept, size, batches, dry_run)

    async def _live_objects(self) -> AsyncIterator[list[str]]:
        """Pages of the objects every remaining blob and render row names."""
        for query in (_LIVE_BLOBS, _LIVE_RENDERS):
            after = ""
            while True:
                rows = await fetch_all(self._conn, query, {"after": after, "limit": self._batch_size})
                yield [row["id"] for row in rows]
                if len(rows) < self._batch_size:
                    break
                after = rows[-1]["id"]

    async def _referenced_by(self, objects: list[str]) -> AsyncIterator[str]:
        for object_id in objects:
            async for found in self._kind.referenced(self._store, object_id):
                yield found


async def _pages(items: AsyncIterator[ObjectInfo], size: int) -> AsyncIterator[list[ObjectInfo]]:
    page: list[ObjectInfo] = []
    async for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
