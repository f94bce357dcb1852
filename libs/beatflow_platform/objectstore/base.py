"""The object store port: blobs are written by streaming and addressed by the sha256 of their bytes."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO, Protocol, cast

from beatflow_platform import naming
from beatflow_platform.errors import DataLoss, InvalidArgument, NotFound, OutOfRange
from beatflow_platform.objectstore.threads import in_thread

READ_CHUNK_BYTES = 1024 * 1024
# A full read hashes what it streams in batches of at least this size, one worker-thread call each.
HASH_BATCH_BYTES = 2 * 1024 * 1024


# Compiled once: manifests check every chunk and pack id they name (hundreds per read).
_BLOB_ID = re.compile(naming.SHA256)


def is_blob_id(value: str) -> bool:
    return _BLOB_ID.fullmatch(value) is not None


def require_blob_id(value: str, field: str = "blob_id") -> str:
    if not is_blob_id(value):
        raise InvalidArgument.for_field(field, "must be 64 lowercase hex characters (a sha256)")
    return value


@dataclass(frozen=True)
class StoredBlob:
    blob_id: str
    size: int
    # Set by `put` when this call wrote the object (False when the bytes were already stored);
    # not part of the blob's identity.
    created: bool = field(default=False, compare=False)


class BlobNotFound(NotFound):
    def __init__(self, blob_id: str):
        super().__init__("blob", blob_id, reason="BLOB_NOT_FOUND")


class BlobCorrupted(DataLoss):
    def __init__(self, blob_id: str, actual: str):
        super().__init__(
            f"blob {blob_id} failed verification: its bytes hash to {actual}",
            reason="BLOB_CORRUPTED",
            metadata={"blob_id": blob_id, "actual_sha256": actual},
        )


class ChecksumMismatch(DataLoss):
    def __init__(self, expected: str, actual: str):
        super().__init__(
            f"uploaded bytes hash to {actual}, not the expected {expected}; nothing was stored",
            reason="CHECKSUM_MISMATCH",
            metadata={"expected_sha256": expected, "actual_sha256": actual},
        )


class SizeMismatch(DataLoss):
    def __init__(self, expected: int, actual: int):
        super().__init__(
            f"the upload holds {actual} bytes, not the {expected} announced; nothing was stored",
            reason="SIZE_MISMATCH",
            metadata={"expected_size": str(expected), "actual_size": str(actual)},
        )


class ObjectStore(Protocol):
    """Every implementation passes the same contract suite (tests/platform/test_object_store_contract.py)."""

    supports_presigned_urls: bool

    async def put(
        self, chunks: AsyncIterable[bytes], *, expected_sha256: str | None = None, size: int | None = None
    ) -> StoredBlob:
        """Stores a stream once, at its content address; storing bytes that already exist writes nothing.

        `expected_sha256` (and, for S3, `size`) let the store write straight to the final place;
        when the stream does not match them, ChecksumMismatch is raised and nothing is stored.
        """
        ...

    async def stat(self, blob_id: str) -> StoredBlob:
        """Raises BlobNotFound."""
        ...

    async def exists(self, blob_id: str) -> bool: ...

    def read(self, blob_id: str, offset: int = 0, length: int | None = None) -> AsyncGenerator[bytes, None]:
        """Streams the blob or a byte range of it; full reads are verified against the id."""
        ...

    async def presigned_get_url(self, blob_id: str, expires: timedelta) -> str:
        """A URL that downloads the blob without credentials until it expires (where supported)."""
        ...

    async def delete(self, blob_id: str) -> None: ...

    async def check(self) -> None:
        """Raises when the store cannot serve (a readiness check)."""


def checked_range(blob: StoredBlob, offset: int, length: int | None) -> tuple[int, int]:
    """Validates a byte range against the blob and returns (offset, length to read)."""
    if offset < 0 or (length is not None and length < 0):
        raise InvalidArgument("offset and length must not be negative")
    if offset > blob.size or (offset == blob.size and blob.size > 0):
        raise OutOfRange(
            f"offset {offset} is past the end of blob {blob.blob_id} ({blob.size} bytes)",
            reason="RANGE_NOT_SATISFIABLE",
            metadata={"size": str(blob.size)},
        )
    remaining = blob.size - offset
    return offset, remaining if length is None else min(length, remaining)


async def verified(blob_id: str, chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """Re-yields `chunks`, holding the last one back until the whole stream hashes to `blob_id`.

    A consumer therefore never receives every byte of a corrupted blob without an error. The hashing runs in
    a worker thread (_ThreadedSha256) while the stream goes on.
    """
    digest = _ThreadedSha256()
    pending: bytes | None = None
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                if pending is not None:
                    await digest.update(pending)
                    yield pending
                pending = chunk
        if pending is not None:
            await digest.update(pending)
        actual = await digest.hexdigest()
    finally:
        await digest.settle()
    if actual != blob_id:
        raise BlobCorrupted(blob_id, actual)
    if pending is not None:
        yield pending


class _ThreadedSha256:
    """SHA-256 of a stream computed in a worker thread, in order, a batch of at least HASH_BATCH_BYTES at a
    time, while the stream goes on: it costs about as much as reading the bytes, and the event loop stays free
    for the producer and the consumer meanwhile. At most two batches are held (one hashing, one filling)."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._batch: list[bytes] = []
        self._batched = 0
        self._hashing: asyncio.Future[None] | None = None

    async def update(self, data: bytes) -> None:
        self._batch.append(data)
        self._batched += len(data)
        if self._batched >= HASH_BATCH_BYTES:
            await self._flush()

    async def hexdigest(self) -> str:
        await self._flush()
        await self.settle()
        return self._digest.hexdigest()

    async def settle(self) -> None:
        """Waits for the batch being hashed, if any (so no hashing outlives the stream)."""
        if self._hashing is not None:
            await asyncio.wait([self._hashing])

    async def _flush(self) -> None:
        await self.settle()
        batch, self._batch, self._batched = self._batch, [], 0
        self._hashing = asyncio.ensure_future(in_thread(_hash_all, self._digest, batch))


def _hash_all(digest: hashlib._Hash, chunks: list[bytes]) -> None:
    for chunk in chunks:
        digest.update(chunk)


async def drain_verified(chunks: AsyncIterable[bytes], expected_sha256: str) -> int:
    """Consumes a stream whose bytes are already stored, proving the caller holds them; returns the size."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    if (actual := digest.hexdigest()) != expected_sha256:
        raise ChecksumMismatch(expected_sha256, actual)
    return size


def file_address(handle: BinaryIO) -> tuple[str, int]:
    """(sha256, size) of a seekable file read from its start, left rewound: what `put` takes as
    `expected_sha256` and `size` so the bytes are written once, straight to their address."""
    handle.seek(0)
    digest = hashlib.file_digest(cast(io.BufferedIOBase, handle), "sha256")  # any binary file reads
    size = handle.tell()
    handle.seek(0)
    return digest.hexdigest(), size


async def single_chunk(data: bytes) -> AsyncIterator[bytes]:
    """Adapts in-memory bytes to `ObjectStore.put`."""
    yield data
