"""Bridges between asyncio and the blocking `minio` client, with bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from typing import TypeVar, cast

_T = TypeVar("_T")


class AsyncToSyncPipe:
    """A file-like reader for a worker thread, fed from the event loop by `put`.

    At most `max_chunks` chunks wait in the pipe, so a fast producer waits for a slow
    uploader instead of buffering the whole stream.
    """

    _END = object()

    def __init__(self, loop: asyncio.AbstractEventLoop, max_chunks: int = 4):
        self._loop = loop
        self._queue: asyncio.Queue = asyncio.Queue(max_chunks)
        self._buffer = bytearray()
        self._ended = False
        self._failure: BaseException | None = None

    async def put(self, chunk: bytes) -> None:
        if chunk:
            await self._queue.put(chunk)

    async def close(self) -> None:
        await self._queue.put(self._END)

    def fail(self, error: BaseException) -> None:
        """Makes the reading thread raise `error` (called from the loop); never blocks."""
        self._failure = error
        while True:
            try:
                self._queue.put_nowait(self._END)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()

    def _next_chunk(self):
        return asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop).result()

    def read(self, size: int = -1) -> bytes:
        """Called from the worker thread."""
        while not self._ended and (size < 0 or len(self._buffer) < size):
            chunk = self._next_chunk()
            if self._failure is not None:
                raise OSError("upload stream failed") from self._failure
            if chunk is self._END:
                self._ended = True
            else:
                self._buffer += chunk
        if size < 0 or size >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
        return data


async def iterate_in_thread(iterator: Iterator[_T]) -> AsyncGenerator[_T, None]:
    """Consumes a blocking iterator one item at a time in worker threads."""
    end = object()
    while True:
        item = await asyncio.to_thread(next, iterator, end)
        if item is end:
            return
        yield cast(_T, item)
