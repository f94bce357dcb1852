"""Audio blobs: streamed in, checked to be audio, stored once by content, handed out to who may read them.

An upload is spooled (memory first, then a temporary file) while it is hashed and counted,
decoded whole by the audio probe, and only then written to the object store, so nothing that is
not complete audio ever reaches the store. Standard MIDI Files are blobs too (the notes beside
a generated stem's audio), but never stems.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from psycopg_pool import AsyncConnectionPool

from beatflow_audio import probe
from beatflow_platform.auth import Principal
from beatflow_platform.db.queries import fetch_one
from beatflow_platform.errors import InvalidArgument, NotFound, ResourceExhausted
from beatflow_platform.objectstore import ObjectStore
from beatflow_platform.objectstore.base import READ_CHUNK_BYTES, ChecksumMismatch, require_blob_id
from beatflow_vcs import visibility
from beatflow_vcs.repositories import viewer_id

_SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
MAX_FILENAME_LENGTH = 255


@dataclass(frozen=True)
class Blob:
    blob_id: str
    size_bytes: int
    content_type: str
    audio_format: str
    duration_seconds: float
    sample_rate: int
    channels: int


_BLOB_COLUMNS = "id AS blob_id, size_bytes, content_type, audio_format, duration_seconds, sample_rate, channels"


class Blobs:
    def __init__(self, pool: AsyncConnectionPool, store: ObjectStore, *, max_bytes: int, max_audio_seconds: float):
        self._pool = pool
        self._store = store
        self._max_bytes = max_bytes
        self._max_audio_seconds = max_audio_seconds

    async def upload(
        self, principal: Principal, chunks: AsyncIterable[bytes], *, filename: str = "", expected_sha256: str = ""
    ) -> Blob:
        user_id = viewer_id(principal)
        if user_id is None:
            raise InvalidArgument("service principals upload on behalf of no one yet", reason="USER_REQUIRED")
        if len(filename) > MAX_FILENAME_LENGTH or "\x00" in filename:
            raise InvalidArgument.for_field("metadata.filename", f"must be at most {MAX_FILENAME_LENGTH} characters")
        if expected_sha256:
            require_blob_id(expected_sha256, "metadata.expected_sha256")
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES) as spool:
            blob_id, size = await self._spool(chunks, spool)
            if expected_sha256 and expected_sha256 != blob_id:
                raise ChecksumMismatch(expected_sha256, blob_id)
            audio = await asyncio.to_thread(probe.describe_blob, spool, max_seconds=self._max_audio_seconds)
            await self._store.put(_read_spool(spool), expected_sha256=blob_id)
        blob = Blob(
            blob_id, size, audio.content_type, audio.format, audio.duration_seconds, audio.sample_rate, audio.channels
        )
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO vcs.blobs (id, size_bytes, content_type, audio_format, duration_seconds, sample_rate,"
                " channels) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (
                    blob.blob_id,
                    size,
                    blob.content_type,
                    blob.audio_format,
                    blob.duration_seconds,
                    blob.sample_rate,
                    blob.channels,
                ),
            )
            await conn.execute(
                "INSERT INTO vcs.blob_grants (blob_id, user_id, filename) VALUES (%s, %s, %s)"
                " ON CONFLICT (blob_id, user_id) DO UPDATE SET filename = EXCLUDED.filename",
                (blob.blob_id, user_id, filename),
            )
        return blob

    async def _spool(self, chunks: AsyncIterable[bytes], spool: BinaryIO) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > self._max_bytes:
                raise ResourceExhausted(
                    f"the upload exceeds the limit of {self._max_bytes} bytes",
                    reason="BLOB_TOO_LARGE",
                    metadata={"limit_bytes": str(self._max_bytes)},
                )
            digest.update(chunk)
            await asyncio.to_thread(spool.write, chunk)
        if size == 0:
            raise InvalidArgument("the upload is empty", reason="NOT_AUDIO")
        return digest.hexdigest(), size

    async def readable(self, principal: Principal, blob_id: str) -> Blob:
        """The blob if the caller uploaded it or reaches it through a readable repository; else NOT_FOUND."""
        require_blob_id(blob_id)
        async with self._pool.connection() as conn:
            blob = await _visible_blob(conn, viewer_id(principal), blob_id)
        if blob is None:
            raise NotFound("blob", blob_id)
        return blob

    async def read(
        self, principal: Principal, blob_id: str, offset: int, length: int
    ) -> tuple[Blob, AsyncIterator[bytes]]:
        blob = await self.readable(principal, blob_id)
        return blob, self._store.read(blob_id, offset, length or None)

    async def download_url(self, principal: Principal, blob_id: str, expires_in_seconds: int) -> tuple[str, int]:
        expires = expires_in_seconds or 900
        if not 60 <= expires <= 604800:
            raise InvalidArgument.for_field("expires_in_seconds", "must be 60 to 604800 (or 0 for 900)")
        await self.readable(principal, blob_id)
        return await self._store.presigned_get_url(blob_id, timedelta(seconds=expires)), expires

    @staticmethod
    async def usable_by(conn, principal: Principal, blob_ids: set[str]) -> dict[str, Blob]:
        """The blobs of `blob_ids` the caller may put in a commit (those they may read).

        INVALID_ARGUMENT (reason STEM_NOT_AUDIO) when one is a MIDI file: stems are decoded as audio.
        """
        viewer = viewer_id(principal)
        usable = {}
        for blob_id in sorted(blob_ids):
            blob = await _visible_blob(conn, viewer, blob_id)
            if blob is not None and blob.audio_format == probe.MIDI_FORMAT:
                raise InvalidArgument(
                    f"blob {blob_id} is MIDI, not audio; a stem must be audio",
                    reason="STEM_NOT_AUDIO",
                    metadata={"blob_id": blob_id},
                )
            if blob is not None:
                usable[blob_id] = blob
        return usable


async def _visible_blob(conn, viewer: str | None, blob_id: str) -> Blob | None:
    """A blob granted to the viewer (they uploaded it) or held by a repository they may read."""
    row = await fetch_one(
        conn,
        f"SELECT {_BLOB_COLUMNS}, EXISTS (SELECT 1 FROM vcs.blob_grants g WHERE g.blob_id = b.id"
        f" AND g.user_id = %s) AS granted FROM vcs.blobs b WHERE b.id = %s",
        (viewer, blob_id),
    )
    if row is None:
        return None
    if not row.pop("granted") and await visibility.readable_repository_holding_blob(conn, viewer, blob_id) is None:
        return None
    return Blob(**row)


async def _read_spool(spool: BinaryIO) -> AsyncIterator[bytes]:
    await asyncio.to_thread(spool.seek, 0)
    while chunk := await asyncio.to_thread(spool.read, READ_CHUNK_BYTES):
        yield chunk
