"""A stored blob as a seekable, buffered file for blocking readers (a decoder in a worker thread).

Reads become ranged reads of the store, issued on the event loop that owns it, so a blob can be
examined where it lies instead of being copied to local disk first.
"""

from __future__ import annotations

import asyncio
import io

from beatflow_platform.objectstore.base import ObjectStore, StoredBlob

BUFFER_BYTES = 4 * 1024 * 1024


class _RangeReader(io.RawIOBase):
    def __init__(self, store: ObjectStore, blob: StoredBlob, loop: asyncio.AbstractEventLoop):
        self._store = store
        self._blob = blob
        self._loop = loop
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._blob.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self._blob.size - self._position)
        if count <= 0:
            return 0
        data = asyncio.run_coroutine_threadsafe(self._fetch(self._position, count), self._loop).result()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    async def _fetch(self, offset: int, count: int) -> bytes:
        return b"".join([chunk async for chunk in self._store.read(self._blob.blob_id, offset, count)])


def open_stored(store: ObjectStore, blob: StoredBlob, loop: asyncio.AbstractEventLoop) -> io.BufferedReader:
    """A file over `blob`; use it from a worker thread only (its reads wait on `loop`)."""
    return io.BufferedReader(_RangeReader(store, blob, loop), buffer_size=BUFFER_BYTES)
