"""Where the chunks of one upload go: the chunk index says which are stored already (and where);
the new ones are encoded and appended, in stream order, to packs written once full.

A pack (`packs/<random id>`) is written before the index entries of its chunks, so an entry never
names a pack that is not there yet; an entry whose pack garbage collection has since deleted is
ignored and replaced. The index (`chunks/<sha256>`) is written without fsync on the filesystem: a
lost entry only costs the next upload of those bytes its dedup.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from datetime import UTC, datetime, timedelta

from beatflow_platform.errors import InvalidArgument
from beatflow_platform.objectstore import chunk_codec
from beatflow_platform.objectstore.base import require_blob_id
from beatflow_platform.objectstore.manifest import ChunkPlace
from beatflow_platform.objectstore.named import NamedObjects
from beatflow_platform.objectstore.threads import in_codec_thread

# New chunks of an upload are written in packs of about this size (held in memory until written: with one write
# in flight, an upload holds two). Larger packs mean fewer GETs per read; 8 MiB measured against 2 in
# docs/storage.md ("Larger packs").
PACK_BYTES = 8 * 1024 * 1024
# Index lookups in flight per upload, and pack writes.
PARALLEL_LOOKUPS = 8
PARALLEL_PACK_WRITES = 1
# An upload that reuses a chunk whose pack is older than this moves the pack's modification time to
# now, so a collection that spares packs modified within its grace period (longer than this plus the
# longest upload) never takes a pack from under an upload about to reference it.
REFRESH_REUSED_AFTER = timedelta(hours=1)


class Packer:
    """Finds where each chunk of an upload is stored, or stores it: index lookups run a few at a time,
    and new chunks go, compressed and in stream order, into packs that are written once full."""

    def __init__(self, objects: NamedObjects):
        self._objects = objects
        self._lookups: deque[tuple[str, asyncio.Future]] = deque()
        self._places: dict[str, ChunkPlace] = {}
        self._queued: set[str] = set()
        self._live_packs: dict[str, bool] = {}
        self._pack_id = _new_pack_id()
        self._pack = bytearray()
        self._packed: list[tuple[str, ChunkPlace]] = []
        self._writes: set[asyncio.Task] = set()

    async def add(self, chunk_id: str, data: bytes, sample_bytes: int | None) -> None:
        """`sample_bytes` says how a new chunk is encoded (chunk_codec.encode)."""
        if chunk_id in self._queued:
            return
        self._queued.add(chunk_id)
        self._lookups.append((chunk_id, asyncio.ensure_future(self._lookup(chunk_id, data, sample_bytes))))
        if len(self._lookups) > PARALLEL_LOOKUPS:
            await self._settle_oldest()

    async def finish(self) -> dict[str, ChunkPlace]:
        while self._lookups:
            await self._settle_oldest()
        await self._seal()
        await asyncio.gather(*self._writes)
        return self._places

    async def abort(self) -> None:
        pending = [lookup for _, lookup in self._lookups] + list(self._writes)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _lookup(self, chunk_id: str, data: bytes, sample_bytes: int | None) -> ChunkPlace | bytes:
        """Where the chunk is stored (in a pack that still exists), else its encoded bytes."""
        entry = await self._objects.get_object("chunks", chunk_id)
        place = _decode_place(entry) if entry is not None else None
        if place is not None and await self._pack_alive(place.pack):
            return place
        return await in_codec_thread(chunk_codec.encode, data, sample_bytes)

    async def _pack_alive(self, pack_id: str) -> bool:
        if pack_id not in self._live_packs:
            info = await self._objects.object_info("packs", pack_id)
            if info is not None and datetime.now(UTC) - info.modified_at > REFRESH_REUSED_AFTER:
                await self._objects.touch_object("packs", pack_id)
            self._live_packs[pack_id] = info is not None
        return self._live_packs[pack_id]

    async def _settle_oldest(self) -> None:
        chunk_id, lookup = self._lookups.popleft()
        found = await lookup
        if isinstance(found, ChunkPlace):
            self._places[chunk_id] = found
            return
        place = ChunkPlace(self._pack_id, len(self._pack), len(found))
        self._pack += found
        self._packed.append((chunk_id, place))
        self._places[chunk_id] = place
        if len(self._pack) >= PACK_BYTES:
            await self._seal()

    async def _seal(self) -> None:
        if not self._pack:
            return
        pack = (self._pack_id, self._pack, self._packed)
        self._pack_id, self._pack, self._packed = _new_pack_id(), bytearray(), []
        while len(self._writes) >= PARALLEL_PACK_WRITES:
            done, self._writes = await asyncio.wait(self._writes, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        self._writes.add(asyncio.ensure_future(self._write_pack(*pack)))

    async def _write_pack(self, pack_id: str, data: bytearray, chunks: list[tuple[str, ChunkPlace]]) -> None:
        """The pack, then the index entries of its chunks (so an entry never names a pack not yet there)."""
        await self._objects.put_object("packs", pack_id, data)
        for start in range(0, len(chunks), PARALLEL_LOOKUPS):
            await asyncio.gather(
                *(
                    self._objects.put_object("chunks", chunk_id, _encode_place(place), replace=True, durable=False)
                    for chunk_id, place in chunks[start : start + PARALLEL_LOOKUPS]
                )
            )


def _new_pack_id() -> str:
    return secrets.token_hex(32)


def _encode_place(place: ChunkPlace) -> bytes:
    return json.dumps({"pack": place.pack, "at": place.offset, "stored": place.stored}).encode()


def _decode_place(entry: bytes) -> ChunkPlace | None:
    """None for an entry that cannot be read (it is then replaced)."""
    try:
        document = json.loads(entry)
        return ChunkPlace(require_blob_id(document["pack"]), int(document["at"]), int(document["stored"]))
    except (ValueError, KeyError, TypeError, InvalidArgument):
        return None
