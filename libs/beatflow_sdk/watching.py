"""Following a job across server restarts.

A job service that stops ends its open watches with UNAVAILABLE (reason SHUTTING_DOWN), and a
restarting one refuses connections for a moment; a watch begins with a snapshot of the job, so
watching again (on the replacement or another replica) misses nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator

import grpc

from beatflow.jobs.v1 import jobs_pb2

# Pauses before each new watch; after the last one the UNAVAILABLE reaches the caller.
REWATCH_DELAYS_SECONDS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)


async def follow(watch: Callable[[], AsyncIterable[jobs_pb2.WatchJobResponse]]) -> AsyncIterator[jobs_pb2.Job]:
    """Each snapshot of the job from `watch()` (a WatchJob call), watching again after UNAVAILABLE."""
    for delay in (*REWATCH_DELAYS_SECONDS, None):
        try:
            async for event in watch():
                yield event.job
            return
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or delay is None:
                raise
            await asyncio.sleep(delay)


def follow_blocking(watch: Callable[[], Iterable[jobs_pb2.WatchJobResponse]]) -> Iterator[jobs_pb2.Job]:
    """`follow` for blocking channels."""
    for delay in (*REWATCH_DELAYS_SECONDS, None):
        try:
            for event in watch():
                yield event.job
            return
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or delay is None:
                raise
            time.sleep(delay)
