"""Lossless audio stored as content-defined chunks of its samples, over a filesystem or S3 store.

`ChunkedAudioStore` is an ObjectStore wrapped around another one. An upload whose first bytes are a
WAV or AIFF header with at least MIN_CHUNKED_SAMPLE_BYTES of samples, or a FLAC stream's metadata, is
cut on the way (cdc.py) into chunks named by their sha256, their borders on sample frames (FLAC: on
coded frames, whose bytes are kept as they came). A chunk already stored (the index `chunks/<sha256>`
says where) is only referenced; each new one is encoded (chunk_codec.py: samples bit-shuffled, LZ4) and appended,
in stream order, to a pack of about 8 MiB (packing.py, `packs/<random id>`), written once full; the
index entries of its chunks follow it, and the manifest (manifest.py) is written last, to
`manifests/<blob id>`. Ten takes of a stem that differ in a few bars thus share every chunk away
from their edits, and a download reads runs of neighbouring chunks, a pack at a time, not one object per
chunk.

Everything else (MP3, OGG, MIDI, short files, blobs stored before chunking) goes to the inner
store whole, so the store is mixed: a read looks for a manifest, then for a whole blob.

The blob id is still the sha256 of the uploaded bytes and a read returns those bytes exactly: the
header and whatever follows the samples are parts of the manifest too. Every read verifies each chunk
it decodes against the fast checksum (XXH3-128) its manifest part carries of it (against the chunk's id
where a part predates those), in the codec thread that decodes it, before any of its bytes go out; the
manifest's checksum of itself vouches for the rest (which chunks, in which order, the inline bytes, the
chunks' checksums), so a full read needs no hash of the whole blob. A manifest written before manifests
had a checksum is trusted only with that hash: its full reads are verified against the blob id, the last
piece held back until it matches. Ranged reads fetch only the chunks under the range. What a failed
upload wrote (packs, index entries) is left to garbage collection, which finds it with the methods
under "for garbage collection".
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from beatflow_platform.errors import DataLoss, Unimplemented
from beatflow_platform.lru import LruCache
from beatflow_platform.objectstore import chunk_codec
from beatflow_platform.objectstore.audio_layout import MAX_HEADER_BYTES, SampleLayout, may_hold_samples, sample_layout
from beatflow_platform.objectstore.base import (
    ChecksumMismatch,
    ObjectStore,
    SizeMismatch,
    StoredBlob,
    checked_range,
    drain_verified,
    require_blob_id,
    verified,
)
from beatflow_platform.objectstore.cdc import FlacFrames, FrameChunker, PcmFrames
from beatflow_platform.objectstore.manifest import INLINE_MAX_BYTES, Manifest, Part, chunk_checksum
from beatflow_platform.objectstore.named import NamedObjects, ObjectInfo, ObjectMissing
from beatflow_platform.objectstore.packing import Packer
from beatflow_platform.objectstore.runs import BadChunk, Run, decode_run, plan_runs, plan_spans
from beatflow_platform.objectstore.threads import in_codec_thread

DEFAULT_CHUNK_BYTES = 128 * 1024
# Below this many bytes of samples a file is a few chunks: stored whole, it dedups as well.
MIN_CHUNKED_SAMPLE_BYTES = 1024 * 1024
# A read decodes runs of neighbouring chunks (runs.py) this many at once, reading the next when the oldest is sent.
PARALLEL_RUNS = 3
# How many blobs the store remembers the kind of (chunked or whole), to ask for that kind first.
REMEMBERED_KINDS = 4096


class ChunkMissing(DataLoss):
    def __init__(self, blob_id: str, chunk_id: str):
        super().__init__(
            f"chunk {chunk_id} of blob {blob_id} is missing from the object store",
            reason="CHUNK_MISSING",
            metadata={"blob_id": blob_id, "chunk_id": chunk_id},
        )


class ChunkCorrupted(DataLoss):
    def __init__(self, blob_id: str, chunk_id: str):
        super().__init__(
            f"chunk {chunk_id} of blob {blob_id} failed verification",
            reason="CHUNK_CORRUPTED",
            metadata={"blob_id": blob_id, "chunk_id": chunk_id},
        )


class InnerStore(ObjectStore, NamedObjects, Protocol):
    """A store of whole blobs that keeps named objects beside them (the filesystem and S3 stores)."""


class ChunkedAudioStore:
    def __init__(self, inner: InnerStore, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
        """`inner` stores whole blobs and, as NamedObjects, the packs, index and manifests."""
        self._inner = inner
        self._objects = inner
        self._chunk_bytes = chunk_bytes
        self._kinds: LruCache[str, bool] = LruCache(REMEMBERED_KINDS)
        self.supports_presigned_urls = inner.supports_presigned_urls

    # -- writing ---------------------------------------------------------------------------------

    async def put(
        self, chunks: AsyncIterable[bytes], *, expected_sha256: str | None = None, size: int | None = None
    ) -> StoredBlob:
        if expected_sha256 is not None and await self.exists(expected_sha256):
            return StoredBlob(expected_sha256, await drain_verified(chunks, expected_sha256))
        stream = aiter(chunks)
        head = bytearray()
        layout = None
        while layout is None and len(head) <= MAX_HEADER_BYTES and may_hold_samples(head):
            chunk = await anext(stream, None)
            if chunk is None:
                break
            head += chunk
            layout = sample_layout(bytes(head[: MAX_HEADER_BYTES + 8]))
        if layout is None or min(layout.data_bytes, size or layout.data_bytes) < MIN_CHUNKED_SAMPLE_BYTES:
            stored = await self._inner.put(_replayed(bytes(head), stream), expected_sha256=expected_sha256, size=size)
            self._remember(stored.blob_id, chunked=False)
            return stored
        upload = _ChunkedUpload(self._objects, self._chunk_bytes, layout)
        try:
            await upload.feed(bytes(head), size)
            async for chunk in stream:
                await upload.feed(chunk, size)
            parts = await upload.finish()
        except BaseException:
            await upload.abort()
            raise
        blob_id = upload.digest.hexdigest()
        if size is not None and size != upload.size:
            raise SizeMismatch(size, upload.size)
        if expected_sha256 is not None and expected_sha256 != blob_id:
            raise ChecksumMismatch(expected_sha256, blob_id)
        if await self.exists(blob_id):
            return StoredBlob(blob_id, upload.size)
        manifest = Manifest(blob_id, upload.size, layout.container, layout.frame_bytes, chunk_codec.NAME, parts)
        created = await self._objects.put_object("manifests", blob_id, manifest.encode())
        self._remember(blob_id, chunked=True)
        return StoredBlob(blob_id, upload.size, created)

    # -- reading ---------------------------------------------------------------------------------

    async def manifest(self, blob_id: str) -> Manifest | None:
        """The blob's manifest; None when it is stored whole or not at all."""
        data = await self._objects.get_object("manifests", require_blob_id(blob_id))
        return None if data is None else Manifest.decode(blob_id, data)

    async def stat(self, blob_id: str) -> StoredBlob:
        manifest = await self.manifest(blob_id)
        return StoredBlob(blob_id, manifest.size) if manifest else await self._inner.stat(blob_id)

    async def exists(self, blob_id: str) -> bool:
        """One request for a blob whose kind (chunked or whole) this store has seen; both at once else."""
        chunked = self._kinds.get(require_blob_id(blob_id))
        if chunked is None:
            manifest, whole = await asyncio.gather(self._manifest_exists(blob_id), self._inner.exists(blob_id))
            if manifest or whole:
                self._remember(blob_id, chunked=manifest)
            return manifest or whole
        first, second = (
            (self._manifest_exists, self._inner.exists) if chunked else (self._inner.exists, self._manifest_exists)
        )
        return await first(blob_id) or await second(blob_id)

    async def _manifest_exists(self, blob_id: str) -> bool:
        return await self._objects.object_info("manifests", blob_id) is not None

    def _remember(self, blob_id: str, *, chunked: bool) -> None:
        """Which way a blob is stored, to ask for that first (a hint: both are still asked when it is gone)."""
        self._kinds.put(blob_id, chunked)

    async def read(self, blob_id: str, offset: int = 0, length: int | None = None) -> AsyncGenerator[bytes, None]:
        manifest = await self.manifest(blob_id)
        if manifest is None:
            async with aclosing(self._inner.read(blob_id, offset, length)) as chunks:
                async for chunk in chunks:
                    yield chunk
            return
        start, count = checked_range(StoredBlob(blob_id, manifest.size), offset, length)
        if count == 0:
            return
        if count == manifest.size and not manifest.checksummed:
            # Written before manifests had a checksum: its list of parts is vouched for by the blob's hash alone.
            pieces = verified(blob_id, self._pieces(manifest, start, start + count, verify_chunks=False))
        else:
            pieces = self._pieces(manifest, start, start + count, verify_chunks=True)
        async with aclosing(pieces):
            async for piece in pieces:
                yield piece

    async def _pieces(
        self, manifest: Manifest, start: int, end: int, *, verify_chunks: bool
    ) -> AsyncGenerator[bytes, None]:
        """The bytes of [start, end): runs of neighbouring chunks read in turn (one request per span of them in a
        pack), each decoded in a codec thread as soon as it is read, PARALLEL_RUNS at once. When the read stops
        early (an error, or a consumer that stops), the decoding started is cancelled and waited for, so none
        outlives the read."""
        stored_runs = self._stored_runs(manifest, plan_runs(manifest.covering(start, end)))
        decoding: deque[asyncio.Task[list[bytes]]] = deque()
        try:
            async with aclosing(stored_runs):
                async for run, stored in stored_runs:
                    decoding.append(
                        asyncio.ensure_future(self._decoded(manifest, run, stored, start, end, verify_chunks))
                    )
                    if len(decoding) == PARALLEL_RUNS:
                        for piece in await decoding.popleft():
                            yield piece
            while decoding:
                for piece in await decoding.popleft():
                    yield piece
        finally:
            for task in decoding:
                task.cancel()
            await asyncio.gather(*decoding, return_exceptions=True)

    async def _stored_runs(self, manifest: Manifest, runs: list[Run]) -> AsyncGenerator[tuple[Run, bytes], None]:
        """Each run with its stored bytes, in order: the runs of a span read over one request of its pack."""
        for span in plan_spans(runs):
            if span.place is None:  # an inline part: nothing to read
                yield span.runs[0], b""
                continue
            sizes = [run.stored_span.stored for run in span.runs if run.stored_span]
            pieces = self._objects.read_pieces("packs", span.place.pack, span.place.offset, sizes)
            runs_of_span = iter(span.runs)
            try:
                async with aclosing(pieces):
                    async for stored in pieces:
                        yield next(runs_of_span), stored
            except ObjectMissing:
                raise ChunkMissing(manifest.blob_id, span.runs[0].parts[0].chunk_id or "") from None

    async def _decoded(
        self, manifest: Manifest, run: Run, stored: bytes, start: int, end: int, verify: bool
    ) -> list[bytes]:
        """The bytes of [start, end) in a run, decoded from its stored bytes in a codec thread."""
        if run.stored_span is None:  # an inline part: nothing to decode
            return decode_run(b"", run, start, end, verify)
        try:
            return await in_codec_thread(decode_run, stored, run, start, end, verify)
        except BadChunk as bad:
            raise ChunkCorrupted(manifest.blob_id, bad.chunk_id) from None

    async def presigned_get_url(self, blob_id: str, expires: timedelta) -> str:
        if await self._objects.object_info("manifests", require_blob_id(blob_id)) is not None:
            raise Unimplemented(
                "this blob is stored as chunks, which no presigned URL can reassemble; download it through the API",
                reason="PRESIGNED_URLS_UNSUPPORTED",
            )
        return await self._inner.presigned_get_url(blob_id, expires)

    async def delete(self, blob_id: str) -> None:
        """Removes the blob; its chunks stay until garbage collection finds nothing references them."""
        await self._objects.delete_object("manifests", require_blob_id(blob_id))
        await self._inner.delete(blob_id)

    async def check(self) -> None:
        await self._inner.check()

    # -- for garbage collection ------------------------------------------------------------------

    async def referenced_chunks(self, blob_id: str) -> AsyncIterator[str]:
        """The ids of the chunks the blob is made of (none for a blob stored whole or not stored)."""
        manifest = await self.manifest(blob_id)
        for chunk_id in manifest.chunk_ids() if manifest else ():
            yield chunk_id

    async def referenced_packs(self, blob_id: str) -> AsyncIterator[str]:
        """The ids of the packs holding the blob's chunks (none for a blob stored whole or not stored)."""
        manifest = await self.manifest(blob_id)
        for pack_id in manifest.pack_ids() if manifest else ():
            yield pack_id

    def stored_chunks(self) -> AsyncIterator[ObjectInfo]:
        """Every entry of the chunk index (`name` is the chunk id). An entry is only where a chunk lies:
        deleting it frees no space, but makes the next upload of those bytes store them again."""
        return self._objects.list_objects("chunks")

    def stored_packs(self) -> AsyncIterator[ObjectInfo]:
        """Every pack, with its size and last modification (refreshed when an upload reuses it)."""
        return self._objects.list_objects("packs")

    async def stored_blobs(self) -> AsyncIterator[ObjectInfo]:
        """Every stored blob, whole ones then chunked ones (`name` is the blob id; a chunked blob's
        size is its manifest's)."""
        for namespace in ("blobs", "manifests"):
            async for info in self._objects.list_objects(namespace):
                yield info

    async def delete_chunk(self, chunk_id: str) -> None:
        """Deletes a chunk's index entry."""
        await self._objects.delete_object("chunks", chunk_id)

    async def delete_pack(self, pack_id: str, *, unless_modified_since: datetime | None = None) -> bool:
        """Deletes a pack (index entries still naming it are ignored, and replaced, by later uploads), unless it was
        modified at or after `unless_modified_since`: an upload about to reuse an old pack touches it first, so a
        collector that listed the pack earlier spares it (the race left is between this check and the delete)."""
        if unless_modified_since is not None:
            info = await self._objects.object_info("packs", pack_id)
            if info is None or info.modified_at >= unless_modified_since:
                return False
        await self._objects.delete_object("packs", pack_id)
        return True


class _ChunkedUpload:
    """One upload on its way in: hashes every byte, keeps the header, and cuts the samples (then
    whatever follows them) into chunks that a _Packer finds or stores while the stream goes on."""

    def __init__(self, objects: NamedObjects, chunk_bytes: int, layout: SampleLayout):
        self._chunk_bytes = chunk_bytes
        self._data_start = layout.data_start
        self._samples_end: int | None = layout.data_start + layout.data_bytes  # None once past it
        self.digest = hashlib.sha256()
        self.size = 0
        self._header = bytearray()
        self._chunker = FrameChunker(chunk_bytes, FlacFrames() if layout.coded else PcmFrames(layout.frame_bytes))
        # How new chunks are encoded (chunk_codec.encode): None keeps FLAC frames as they are; 1 past the samples
        self._sample_bytes: int | None = None if layout.coded else layout.sample_bytes
        self._parts: list[Part] = []
        self._packer = Packer(objects)

    async def feed(self, data: bytes, announced_size: int | None) -> None:
        self.digest.update(data)
        position = self.size
        self.size += len(data)
        if announced_size is not None and self.size > announced_size:
            raise SizeMismatch(announced_size, self.size)
        if position < self._data_start:
            split = self._data_start - position
            self._header += data[:split]
            data, position = data[split:], self._data_start
        if self._samples_end is not None and position + len(data) >= self._samples_end:
            split = self._samples_end - position
            await self._add(self._chunker.feed(data[:split]) + self._chunker.finish())
            data, self._samples_end, self._sample_bytes = data[split:], None, 1
            self._chunker = FrameChunker(self._chunk_bytes)  # after the samples, any byte may end a chunk
        if data:
            await self._add(self._chunker.feed(data))

    async def finish(self) -> tuple[Part, ...]:
        await self._add(self._chunker.finish())
        places = await self._packer.finish()
        parts = [part if part.chunk_id is None else replace(part, place=places[part.chunk_id]) for part in self._parts]
        return (Part(len(self._header), inline=bytes(self._header)), *parts)

    async def abort(self) -> None:
        await self._packer.abort()

    async def _add(self, chunks: list[bytes]) -> None:
        for data in chunks:
            if len(data) <= INLINE_MAX_BYTES:
                self._parts.append(Part(len(data), inline=data))
                continue
            chunk_id = hashlib.sha256(data).hexdigest()
            self._parts.append(Part(len(data), chunk_id, xxh3_128=chunk_checksum(data)))
            await self._packer.add(chunk_id, data, self._sample_bytes)


async def _replayed(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for chunk in rest:
        yield chunk
