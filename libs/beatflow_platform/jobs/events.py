"""Live job changes from PostgreSQL LISTEN/NOTIFY, fanned out to watchers in this process.

One connection listens for the whole process. A notification only says "job X changed";
watchers then read the row, so a lost notification costs latency, never correctness: each
watcher also re-reads on a timer, and a reconnect wakes every watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator

import psycopg
from psycopg import sql

from beatflow_platform.errors import Unavailable
from beatflow_platform.jobs.model import Job
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.logging import get_logger

CHANGED_CHANNEL = "beatflow_job_changed"
QUEUED_CHANNEL = "beatflow_job_queued"
_log = get_logger("beatflow.jobs.events")


class Notifications:
    """Listens on channels and sets per-key asyncio events."""

    def __init__(self, dsn: str, channel: str):
        self._dsn = dsn
        self._channel = channel
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name=f"listen-{self._channel}")
        await asyncio.wait_for(self.connected.wait(), 30)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        backoff = 0.2
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self.connected.set()
                    backoff = 0.2
                    self._wake_all()  # anything may have changed while we were away
                    async for notify in conn.notifies():
                        self._wake(notify.payload)
            except psycopg.OperationalError as error:
                self.connected.clear()
                _log.warning("notification connection lost", channel=self._channel, error=str(error))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _wake(self, key: str) -> None:
        for event in self._waiters.get(key, ()):
            event.set()
        for event in self._waiters.get("*", ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    @contextlib.contextmanager
    def subscribe(self, *keys: str):
        """An event set whenever one of `keys` (or, for "*", anything) is notified."""
        event = asyncio.Event()
        for key in keys:
            self._waiters[key].add(event)
        try:
            yield event
        finally:
            for key in keys:
                self._waiters[key].discard(event)
                if not self._waiters[key]:
                    del self._waiters[key]


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    """Returns when any of the events is set, or after `timeout` seconds."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _moved(before: Job, after: Job) -> bool:
    """Whether the job or its queue position changed; an ETA that only ticked on is not news."""
    return dataclasses.replace(before, eta_seconds=None) != dataclasses.replace(after, eta_seconds=None)


async def watch(
    queue: JobQueue,
    notifications: Notifications,
    job_id: str,
    owner_id: str,
    *,
    until: asyncio.Event | None = None,
    resync_seconds: float = 5.0,
) -> AsyncIterator[Job]:
    """A snapshot of the job, then each change, ending after a terminal state.

    Changes that follow each other faster than the watcher reads them arrive as one snapshot; a
    queued job's moves up the queue arrive as the watcher re-reads (every `resync_seconds` at most).
    Once `until` is set, a watch of an unfinished job raises UNAVAILABLE (watch again elsewhere).
    """
    until = until or asyncio.Event()
    with notifications.subscribe(job_id) as changed:
        job = await queue.get(job_id, owner_id)  # read after subscribing: no change slips between
        yield job
        while not job.state.terminal:
            if until.is_set():
                raise Unavailable("the service is shutting down; watch the job again", reason="SHUTTING_DOWN")
            await _first_of(changed, until, timeout=resync_seconds)
            changed.clear()
            latest = await queue.get(job_id, owner_id)
            if _moved(job, latest):
                yield latest
            job = latest
