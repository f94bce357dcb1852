"""Blocking CPU work of the stores (hashing, compression and decompression) in worker threads.

hashlib and zstandard release the GIL on large buffers, so this work runs beside the event loop and
beside each other: a read decodes and verifies the next runs of chunks, two at once, while the pieces
of the one before go out. A thread cannot be stopped, so a caller that is cancelled waits for the work it
started to end (a few milliseconds at most) before it gives up: no work outlives the read or upload
that asked for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar, TypeVarTuple

_T = TypeVar("_T")
_Args = TypeVarTuple("_Args")

# (De)compression, and the checking of the chunks decoded, runs in two threads of its own: few threads mean few
# codec contexts and malloc arenas (an upload's memory stays bounded); two spread a read's work over two cores
# (a third changed nothing measurable on the 2-core bench machine, docs/storage.md).
_CODEC_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="beatflow-zstd")


async def in_thread(function: Callable[[*_Args], _T], *args: *_Args, executor: Executor | None = None) -> _T:
    """`function(*args)` in a worker thread of `executor` (the loop's default one when None). When the caller
    is cancelled, the work is waited for before CancelledError goes on."""
    work = asyncio.get_running_loop().run_in_executor(executor, function, *args)
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.gather(work, return_exceptions=True)
        raise


async def in_codec_thread(function: Callable[[*_Args], _T], *args: *_Args) -> _T:
    return await in_thread(function, *args, executor=_CODEC_THREADS)
