"""Workers that run queued jobs: claim, heartbeat, progress, cooperative cancellation, outcome.

A handler is `async def handler(context: JobContext) -> jobs_pb2.JobResult`. It reports
progress with `await context.progress(...)` (or `context.progress_threadsafe(...)` from a
worker thread), and either call raises `JobCancelled` once the job's owner cancelled it.
Errors map to outcomes: a `BeatFlowError` fails the job with its code and message,
`Unavailable` (a dependency is down) requeues it after the queue's back-off, anything else fails
it as INTERNAL with a generic message (the traceback goes to the log).

Idle workers sleep until a `queued` notification names one of their kinds, the earliest job of
their kinds waiting out a back-off is due, or the poll interval passes (a safety net).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass

from beatflow.jobs.v1 import jobs_pb2
from beatflow_platform.errors import BeatFlowError, Unavailable
from beatflow_platform.jobs.events import Notifications
from beatflow_platform.jobs.model import Job, JobCancelled, JobState, LeaseLost
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.logging import get_logger

Handler = Callable[["JobContext"], Awaitable[jobs_pb2.JobResult]]
_log = get_logger("beatflow.jobs.worker")


@dataclass(frozen=True)
class BatchHandler:
    """Runs queued jobs of one batch together (one model pass for all of them).

    `limit(job)` says how many jobs of the job's batch (same kind and `job.batch_id`) to
    run at once, 1 meaning alone; `run(contexts)` returns one result per context, in order. A
    job of the batch cancelled while it runs ends cancelled; the others still succeed.
    """

    limit: Callable[[Job], int]
    run: Callable[[list[JobContext]], Awaitable[list[jobs_pb2.JobResult]]]


class JobContext:
    def __init__(self, job: Job, queue: JobQueue, worker_id: str, loop: asyncio.AbstractEventLoop):
        self.job = job
        self._queue = queue
        self._worker_id = worker_id
        self._loop = loop
        self.cancel_requested = job.cancel_requested
        # Reports are written one at a time in the order they were made: concurrent writes could
        # commit out of order and move the stored progress (and its watchers) backwards.
        self._reporting = asyncio.Lock()

    def _check(self) -> None:
        if self.cancel_requested:
            raise JobCancelled(self.job.job_id)

    async def progress(self, fraction: float, stage: str, message: str = "") -> None:
        self._check()
        await self._record(fraction, stage, message)
        self._check()

    def progress_threadsafe(self, fraction: float, stage: str, message: str = "") -> None:
        """For handlers' worker threads: reports without waiting, raises JobCancelled when flagged."""
        self._check()
        future: Future = asyncio.run_coroutine_threadsafe(self._record(fraction, stage, message), self._loop)
        future.add_done_callback(lambda f: f.exception())  # failures surface through the heartbeat

    async def _record(self, fraction: float, stage: str, message: str) -> None:
        async with self._reporting:
            self.cancel_requested = (
                await self._queue.report_progress(self.job.job_id, self._worker_id, fraction, stage, message)
                or self.cancel_requested
            )


def progress_all_threadsafe(contexts: list[JobContext], fraction: float, stage: str, message: str = "") -> None:
    """Reports to every job of a batch still wanted; raises JobCancelled once none is."""
    wanted = [context for context in contexts if not context.cancel_requested]
    if not wanted:
        raise JobCancelled(contexts[0].job.job_id)
    for context in wanted:
        context.progress_threadsafe(fraction, stage, message)


class JobWorker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: dict[str, Handler | BatchHandler],
        *,
        queued_notifications: Notifications | None = None,
        concurrency: int = 1,
        lease_seconds: float = 30.0,
        heartbeat_seconds: float = 10.0,
        poll_seconds: float = 5.0,
        worker_id: str | None = None,
    ):
        self._queue = queue
        self._handlers = dict(handlers)
        self._notifications = queued_notifications
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._heartbeat = heartbeat_seconds
        self._poll = poll_seconds
        self.worker_id = worker_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self._stopping = asyncio.Event()
        self.completed = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Runs until `stop()`; jobs in progress finish first."""
        loops = [asyncio.create_task(self._claim_loop(i)) for i in range(self._concurrency)]
        loops.append(asyncio.create_task(self._reap_loop()))
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()

    async def _wait(self, seconds: float, wake: asyncio.Event | None = None) -> None:
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(wake.wait()))
        _, pending = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def _claim_loop(self, index: int) -> None:
        kinds = list(self._handlers)
        subscription = self._notifications.subscribe(*kinds) if self._notifications else contextlib.nullcontext()
        with subscription as queued:
            while not self._stopping.is_set():
                if queued is not None:
                    queued.clear()
                try:
                    job = await self._queue.claim(kinds, self.worker_id, self._lease)
                    due = None if job else await self._queue.seconds_until_due(kinds)
                except Exception as error:  # the database is down: wait and try again
                    _log.warning("claim failed", error=str(error))
                    await self._wait(self._poll)
                    continue
                if job is None:
                    await self._wait(self._poll if due is None else min(self._poll, due), queued)
                    continue
                await self._execute(await self._with_batch(job))

    async def _reap_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(Exception):
                if requeued := await self._queue.requeue_expired():
                    _log.warning("requeued jobs whose worker stopped", count=requeued)
            await self._wait(max(self._lease / 2, 0.2))

    async def _with_batch(self, job: Job) -> list[Job]:
        """The job plus queued jobs of its batch its handler wants to run with it."""
        handler = self._handlers[job.kind]
        if not isinstance(handler, BatchHandler) or not job.batch_id:
            return [job]
        extra = handler.limit(job) - 1
        if extra < 1:
            return [job]
        return [job, *await self._queue.claim_batch(job, self.worker_id, self._lease, extra)]

    async def _keep_leases(self, contexts: list[JobContext]) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            for context in contexts:
                context.cancel_requested = await self._queue.heartbeat(context.job.job_id, self.worker_id, self._lease)

    async def _run(self, contexts: list[JobContext]) -> list[jobs_pb2.JobResult]:
        handler = self._handlers[contexts[0].job.kind]
        if isinstance(handler, BatchHandler):
            return await handler.run(contexts)
        return [await handler(contexts[0])]

    async def _execute(self, jobs: list[Job]) -> None:
        loop = asyncio.get_running_loop()
        contexts = [JobContext(job, self._queue, self.worker_id, loop) for job in jobs]
        log = _log.bind(job_ids=[job.job_id for job in jobs], kind=jobs[0].kind, attempt=jobs[0].attempt)
        log.info("job started")
        handling = asyncio.create_task(self._run(contexts))
        heartbeat = asyncio.create_task(self._keep_leases(contexts))
        done, _ = await asyncio.wait({handling, heartbeat}, return_when=asyncio.FIRST_COMPLETED)
        if handling not in done:  # a lease is gone (or the database): stop working on jobs we no longer hold
            handling.cancel()
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await heartbeat
        try:
            results = await handling
        except JobCancelled:
            await self._finish_all(jobs, JobState.CANCELLED)
            log.info("job cancelled")
        except (LeaseLost, asyncio.CancelledError):
            log.warning("job abandoned: its lease was lost")
        except Unavailable as error:
            for job in jobs:
                await self._queue.retry_later(job.job_id, self.worker_id, error.message)
            log.warning("job will be retried", error=error.message)
        except BeatFlowError as error:
            await self._finish_all(jobs, JobState.FAILED, error_code=error.code.name, error_message=error.message)
            log.info("job failed", code=error.code.name)
        except Exception:
            log.exception("job failed with an unexpected error")
            await self._finish_all(jobs, JobState.FAILED, error_code="INTERNAL", error_message="internal error")
        else:
            for context, result in zip(contexts, results, strict=True):
                if context.cancel_requested:
                    await self._queue.finish(context.job.job_id, self.worker_id, JobState.CANCELLED)
                elif await self._queue.finish(
                    context.job.job_id, self.worker_id, JobState.SUCCEEDED, result=result.SerializeToString()
                ):
                    self.completed += 1
            log.info("job succeeded")

    async def _finish_all(self, jobs: list[Job], state: JobState, **outcome) -> None:
        for job in jobs:
            await self._queue.finish(job.job_id, self.worker_id, state, **outcome)
