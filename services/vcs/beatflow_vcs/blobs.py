"""Audio blobs: streamed in, checked to be audio, stored once by content, handed out to who may read them.

An upload is streamed once into its content-addressed place in the object store while it is
hashed and counted (no local copy), then decoded whole by the audio probe where it lies, through
ranged reads. Only then is it recorded in vcs.blobs; bytes that are not complete audio are deleted
again, and bytes uploaded before are verified but neither written nor decoded twice. Standard MIDI
Files are blobs too (the notes beside a generated stem's audio), but never stems.

The store may keep lossless audio as chunks shared between takes (docs/storage.md): the blob id is
still the sha256 of the uploaded bytes, and a download still returns those bytes, verified.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from beatflow_audio import probe
from beatflow_platform.auth import Principal
from beatflow_platform.db.pool import DictPool
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.errors import Aborted, InvalidArgument, NotFound, ResourceExhausted
from beatflow_platform.objectstore import ObjectStore
from beatflow_platform.objectstore.base import StoredBlob, require_blob_id
from beatflow_platform.objectstore.reader import open_stored
from beatflow_vcs import visibility
from beatflow_vcs.repositories import viewer_id

# Uploads are decoded in threads of their own: a decoder's reads run on the event loop and take threads
# of its default executor (the store's blocking calls), so decoders holding those threads would wait
# for reads that never get one (issue 18: vcs hung for good with as many uploads as threads).
_DECODER_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="beatflow-decode")


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
    def __init__(self, pool: DictPool, store: ObjectStore, *, max_bytes: int, max_audio_seconds: float):
        self._pool = pool
        self._store = store
        self._max_bytes = max_bytes
        self._max_audio_seconds = max_audio_seconds

    async def upload(
        self,
        principal: Principal,
        chunks: AsyncIterable[bytes],
        *,
        filename: str = "",
        expected_sha256: str = "",
        size_bytes: int = 0,
    ) -> Blob:
        """Stores the stream once, straight into the object store, and describes it there.

        With `expected_sha256` and `size_bytes` the S3 store writes in place (else it stages and copies).
        """
        user_id = viewer_id(principal)
        if user_id is None:
            raise InvalidArgument("service principals upload on behalf of no one yet", reason="USER_REQUIRED")
        if expected_sha256:
            require_blob_id(expected_sha256, "metadata.expected_sha256")
        if size_bytes < 0:
            raise InvalidArgument.for_field("size_bytes", "must not be negative")
        if size_bytes > self._max_bytes:
            raise self._too_large()
        stored = await self._store.put(
            self._bounded(chunks), expected_sha256=expected_sha256 or None, size=size_bytes or None
        )
        blob = await self._known(stored.blob_id) or await self._describe(stored)
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO vcs.blobs (id, size_bytes, content_type, audio_format, duration_seconds, sample_rate,"
                " channels) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET last_uploaded_at = now()",
                (
                    blob.blob_id,
                    blob.size_bytes,
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
            # The bytes were already stored, so nothing was written: holding the blob's row now, make sure
            # a garbage collection that had just taken it did not delete the object under this upload.
            if not stored.created and not await self._store.exists(blob.blob_id):
                raise Aborted(
                    f"blob {blob.blob_id} was being collected as garbage during this upload; upload it again",
                    reason="BLOB_COLLECTED",
                )
        return blob

    def _too_large(self) -> ResourceExhausted:
        return ResourceExhausted(
            f"the upload exceeds the limit of {self._max_bytes} bytes",
            reason="BLOB_TOO_LARGE",
            metadata={"limit_bytes": str(self._max_bytes)},
        )

    async def _bounded(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """The stream, failing (so the store keeps nothing) past the size limit or when it is empty."""
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > self._max_bytes:
                raise self._too_large()
            yield chunk
        if size == 0:
            raise InvalidArgument("the upload is empty", reason="NOT_AUDIO")

    async def _known(self, blob_id: str) -> Blob | None:
        """The description recorded when these bytes were first uploaded (they are not decoded again)."""
        async with self._pool.connection() as conn:
            row = await fetch_one(conn, f"SELECT {_BLOB_COLUMNS} FROM vcs.blobs WHERE id = %s", (blob_id,))
        return Blob(**row) if row else None

    async def _describe(self, stored: StoredBlob) -> Blob:
        """Decodes the stored bytes where they lie; what is not complete audio is removed again.

        Until a vcs.blobs row exists no commit can reference the object, so removing it is safe.
        """
        loop = asyncio.get_running_loop()

        def decode() -> probe.AudioDescription:
            # Opened and closed in the decoding thread: closing the file from the loop while that thread
            # reads would wait for the file's lock, held by a read that waits for the loop (a cancelled call).
            with open_stored(self._store, stored, loop) as handle:
                return probe.describe_blob(handle, max_seconds=self._max_audio_seconds)

        try:
            audio = await loop.run_in_executor(_DECODER_THREADS, decode)
        except (InvalidArgument, ResourceExhausted):
            if stored.created:
                await self._store.delete(stored.blob_id)
            raise
        return Blob(
            stored.blob_id,
            stored.size,
            audio.content_type,
            audio.format,
            audio.duration_seconds,
            audio.sample_rate,
            audio.channels,
        )

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
        """A presigned URL on S3, for blobs stored whole; UNIMPLEMENTED for chunked ones and on the filesystem."""
        expires = expires_in_seconds or 900
        await self.readable(principal, blob_id)
        return await self._store.presigned_get_url(blob_id, timedelta(seconds=expires)), expires

    @staticmethod
    async def usable_by(conn, principal: Principal, blob_ids: set[str]) -> dict[str, Blob]:
        """The blobs of `blob_ids` the caller may put in a commit (those they may read), in one query.

        INVALID_ARGUMENT (reason STEM_NOT_AUDIO) when one is a MIDI file: stems are decoded as audio.
        """
        rows = await fetch_all(conn, _USABLE_BLOBS, {"viewer": viewer_id(principal), "ids": sorted(blob_ids)})
        usable = {row["blob_id"]: Blob(**row) for row in rows}
        for blob_id, blob in sorted(usable.items()):
            if blob.audio_format == probe.MIDI_FORMAT:
                raise InvalidArgument(
                    f"blob {blob_id} is MIDI, not audio; a stem must be audio",
                    reason="STEM_NOT_AUDIO",
                    metadata={"blob_id": blob_id},
                )
        return usable


# The blobs granted to the viewer, and those held by a repository they may read: the rule of
# visibility.readable_repository_holding_blob for many blobs at once. The repository walk (forks
# made after a commit see it) starts only from blobs that are not granted, usually none.
_USABLE_BLOBS = f"""
WITH wanted AS (
    SELECT b.id AS wanted_id,
        EXISTS (SELECT 1 FROM vcs.blob_grants g WHERE g.blob_id = b.id AND g.user_id = %(viewer)s) AS granted
    FROM vcs.blobs b WHERE b.id = ANY(%(ids)s)
),
holders AS (
    WITH RECURSIVE holders(blob_id, repo_id, seq) AS (
        SELECT s.blob_id, rc.repo_id, rc.seq FROM vcs.commit_stems s
        JOIN vcs.repo_commits rc ON rc.commit_id = s.commit_id
        WHERE s.blob_id IN (SELECT wanted_id FROM wanted WHERE NOT granted)
        UNION
        SELECT h.blob_id, r.id, h.seq FROM holders h
        JOIN vcs.repositories r ON r.fork_source_repo_id = h.repo_id AND r.fork_source_seq >= h.seq
    )
    SELECT DISTINCT h.blob_id FROM holders h
    JOIN vcs.repositories r ON r.id = h.repo_id
    LEFT JOIN vcs.collaborators c ON c.repo_id = r.id AND c.user_id = %(viewer)s
    WHERE r.deleted_at IS NULL AND (r.is_public OR r.owner_id = %(viewer)s OR c.user_id IS NOT NULL)
)
SELECT {_BLOB_COLUMNS} FROM vcs.blobs b JOIN wanted w ON w.wanted_id = b.id
WHERE w.granted OR b.id IN (SELECT blob_id FROM holders)
FOR KEY SHARE OF b
"""


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
