"""Concurrent uploads never starve the thread pool the object store reads through (issue 18).

An upload is decoded in a worker thread whose reads are ranged reads of the store, run on the event
loop; the store's own blocking calls take threads of the loop's default executor. Decoders that
held those threads waited for reads that needed one: with as many uploads as threads, vcs hung for
good (the load bench's users then saw every call time out, sign-ups included, as hashing a password
needs a thread too). The pool is shrunk to two threads here so that a few uploads are many.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.audio import tone
from tests.fixtures.vcs import VcsUnderTest

POOL_THREADS = 2
UPLOADS = 4 * POOL_THREADS
DEADLINE_SECONDS = 30


@pytest.fixture
async def small_default_executor():
    """The loop's default executor with POOL_THREADS threads for one test; cancelling its queued work
    at the end releases any thread still waiting on it, so a regression fails instead of hanging."""
    loop = asyncio.get_running_loop()
    small = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="small-default")
    loop.set_default_executor(small)
    yield
    small.shutdown(wait=False, cancel_futures=True)
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="asyncio"))


async def test_more_concurrent_uploads_than_threads_all_finish(vcs: VcsUnderTest, small_default_executor):
    alice = await vcs.sign_up()
    takes = [tone(1.0, 220.0 + 20 * n) for n in range(UPLOADS)]  # distinct bytes: each one is decoded

    uploads = [asyncio.ensure_future(alice.upload(take)) for take in takes]
    # Waited for, not cancelled: a decode cancelled mid-read used to block the whole loop (see blobs.py).
    _, waiting = await asyncio.wait(uploads, timeout=DEADLINE_SECONDS)

    assert not waiting, f"{len(waiting)} of {UPLOADS} uploads still waiting after {DEADLINE_SECONDS} s"
    blobs = [upload.result() for upload in uploads]
    assert len({blob.blob_id for blob in blobs}) == UPLOADS
    assert all(blob.audio.duration_seconds == pytest.approx(1.0, abs=0.05) for blob in blobs)
    # Threads are free again: hashing a new user's password (a worker thread) still works.
    assert (await asyncio.wait_for(vcs.sign_up(), timeout=DEADLINE_SECONDS)).tokens.access_token
