"""The durable job queue and workers against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest
from google.protobuf import json_format

from beatflow.jobs.v1 import jobs_pb2
from beatflow_platform.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from beatflow_platform.jobs.events import CHANGED_CHANNEL, QUEUED_CHANNEL, Notifications, watch
from beatflow_platform.jobs.model import JobState, RetryPolicy
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.servicer import job_to_proto
from beatflow_platform.jobs.worker import JobWorker
from beatflow_platform.pagination import PageTokens


@pytest.fixture
def queue(pool):
    # Retries come back at once here; tests/platform/test_job_retries.py covers the back-off.
    return JobQueue(pool, PageTokens("job-tests"), retries=RetryPolicy(base_seconds=0))


@pytest.fixture
async def changes(database_dsn):
    notifications = Notifications(database_dsn, CHANGED_CHANNEL)
    await notifications.start()
    yield notifications
    await notifications.close()


@pytest.fixture
async def queued(database_dsn):
    notifications = Notifications(database_dsn, QUEUED_CHANNEL)
    await notifications.start()
    yield notifications
    await notifications.close()


class RunningWorker:
    """A JobWorker running in the background for one test."""

    def __init__(self, worker: JobWorker):
        self.worker = worker
        self.task = asyncio.create_task(worker.run())

    async def stop(self):
        self.worker.stop()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def start_worker(queue, queued):
    running = []

    def start(handlers, *, on: JobQueue | None = None, **options) -> JobWorker:
        options = {"lease_seconds": 2.0, "heartbeat_seconds": 0.2, "poll_seconds": 0.5, **options}
        worker = RunningWorker(JobWorker(on or queue, handlers, queued_notifications=queued, **options))
        running.append(worker)
        return worker.worker

    yield start
    for worker in running:
        await worker.stop()


async def wait_for(queue: JobQueue, job_id: str, predicate, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await queue.get(job_id)
        if predicate(job):
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job never reached the expected state; last: {job.state} {job.progress_fraction}")
        await asyncio.sleep(0.05)


async def test_submit_get_and_idempotency(queue):
    job = await queue.submit("test.echo", "alice", {"text": "hi"}, request_id="r1")
    assert (job.state, job.attempt, job.payload) == (JobState.QUEUED, 0, {"text": "hi"})
    again = await queue.submit("test.echo", "alice", {"text": "ignored"}, request_id="r1")
    assert again.job_id == job.job_id
    other = await queue.submit("test.echo", "bob", {"text": "hi"}, request_id="r1")
    assert other.job_id != job.job_id
    assert (await queue.get(job.job_id, "alice")).job_id == job.job_id
    with pytest.raises(NotFound):
        await queue.get(job.job_id, "bob")
    with pytest.raises(InvalidArgument):
        await queue.get("not-a-uuid", "alice")


async def test_concurrent_claims_take_each_job_once(queue):
    submitted = {(await queue.submit("test.echo", "alice", {"n": n})).job_id for n in range(20)}

    async def claimer(name):
        taken = []
        while (job := await queue.claim(["test.echo"], name, 30)) is not None:
            taken.append(job.job_id)
        return taken

    results = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    claimed = [job_id for taken in results for job_id in taken]
    assert sorted(claimed) == sorted(submitted)
    assert await queue.claim(["test.echo"], "late", 30) is None


async def test_worker_reports_progress_and_watchers_see_it(queue, changes, start_worker):
    gate = asyncio.Event()

    async def stepper(context):
        for step in (1, 2, 3):
            await gate.wait()
            gate.clear()
            await context.progress(step / 4, "rendering", f"bar {step}")
        await gate.wait()
        return jobs_pb2.JobResult(artifacts=[{"name": "mix", "blob": {"blob_id": "a" * 64}}])

    job = await queue.submit("test.steps", "alice", {})
    start_worker({"test.steps": stepper})
    seen = []

    async def follow():
        async for snapshot in watch(queue, changes, job.job_id, "alice", resync_seconds=10):
            seen.append(snapshot)

    follower = asyncio.create_task(follow())
    for _ in range(4):
        await asyncio.sleep(0.2)
        gate.set()
    await asyncio.wait_for(follower, 10)
    fractions = [s.progress_fraction for s in seen if s.state == JobState.RUNNING]
    assert [f for f in fractions if f in (0.25, 0.5, 0.75)] == [0.25, 0.5, 0.75]
    assert seen[-1].state == JobState.SUCCEEDED
    result = jobs_pb2.JobResult.FromString(seen[-1].result)
    assert result.artifacts[0].name == "mix"


async def test_cancelling_queued_running_and_finished_jobs(queue, start_worker):
    queued_job = await queue.submit("test.nobody-runs-this", "alice", {})
    assert (await queue.cancel(queued_job.job_id, "alice")).state == JobState.CANCELLED
    with pytest.raises(FailedPrecondition):
        await queue.cancel(queued_job.job_id, "alice")

    async def endless(context):
        while True:
            await context.progress(0.1, "looping")
            await asyncio.sleep(0.05)

    running = await queue.submit("test.endless", "alice", {})
    start_worker({"test.endless": endless})
    await wait_for(queue, running.job_id, lambda j: j.state == JobState.RUNNING)
    with pytest.raises(NotFound):
        await queue.cancel(running.job_id, "mallory")
    await queue.cancel(running.job_id, "alice")
    done = await wait_for(queue, running.job_id, lambda j: j.state.terminal)
    assert done.state == JobState.CANCELLED


async def test_handler_errors_become_outcomes(queue, start_worker):
    async def refuses(context):
        raise InvalidArgument.for_field("bpm", "must be 60 to 300")

    async def crashes(context):
        raise RuntimeError("database password is hunter2")

    attempts = []

    async def flaky(context):
        attempts.append(context.job.attempt)
        raise Unavailable("object store down")

    jobs = {
        kind: await queue.submit(kind, "alice", {}, max_attempts=2)
        for kind in ("test.refuses", "test.crashes", "test.flaky")
    }
    start_worker({"test.refuses": refuses, "test.crashes": crashes, "test.flaky": flaky})
    refused = await wait_for(queue, jobs["test.refuses"].job_id, lambda j: j.state.terminal)
    assert (refused.state, refused.error_code) == (JobState.FAILED, "INVALID_ARGUMENT")
    crashed = await wait_for(queue, jobs["test.crashes"].job_id, lambda j: j.state.terminal)
    assert (crashed.error_code, crashed.error_message) == ("INTERNAL", "internal error")
    flaked = await wait_for(queue, jobs["test.flaky"].job_id, lambda j: j.state.terminal)
    assert (flaked.state, flaked.error_code, flaked.attempt) == (JobState.FAILED, "UNAVAILABLE", 2)
    assert attempts == [1, 2]


async def test_expired_leases_are_requeued_then_failed(queue):
    job = await queue.submit("test.lost", "alice", {}, max_attempts=2)
    for attempt in (1, 2):
        claimed = await queue.claim(["test.lost"], f"vanishing-{attempt}", lease_seconds=0.1)
        assert claimed.attempt == attempt
        await asyncio.sleep(0.2)
        assert await queue.requeue_expired() == 1
    final = await queue.get(job.job_id)
    assert (final.state, final.error_code) == (JobState.FAILED, "ABORTED")


class CountingQueue(JobQueue):
    """Counts claims: each one is its worker waking up to look for work."""

    claims = 0

    async def claim(self, kinds, worker_id, lease_seconds):
        self.claims += 1
        return await super().claim(kinds, worker_id, lease_seconds)


async def test_workers_wake_only_for_queued_jobs_of_their_kinds(pool, queue, queued, start_worker):
    async def separate(context):
        return jobs_pb2.JobResult()

    separator_queue = CountingQueue(pool, PageTokens("job-tests"))
    start_worker({"separator.separate": separate}, on=separator_queue, poll_seconds=30)
    async with asyncio.timeout(5):
        while separator_queue.claims == 0:  # its first look, then it sleeps until woken
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert separator_queue.claims == 1
    with queued.subscribe("generator.generate") as generator_queued:
        for n in range(5):
            await queue.submit("generator.generate", "alice", {"n": n})
        await asyncio.wait_for(generator_queued.wait(), 5)  # the notifications went out...
        await asyncio.sleep(0.5)
    assert separator_queue.claims == 1  # ...and did not wake the separator's worker
    separation = await queue.submit("separator.separate", "alice", {})
    done = await wait_for(queue, separation.job_id, lambda j: j.state.terminal, timeout=5)  # well before its poll
    assert done.state == JobState.SUCCEEDED and separator_queue.claims >= 2


async def test_killed_worker_process_job_finishes_once_elsewhere(queue, database_dsn, start_worker):
    job = await queue.submit("test.slow", "alice", {})
    doomed = subprocess.Popen([sys.executable, "-m", "tests.platform.job_worker_process", database_dsn])
    try:
        await wait_for(queue, job.job_id, lambda j: j.state == JobState.RUNNING and j.progress_fraction > 0.01, 60)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    runs = []

    async def quick(context):
        runs.append(context.job.attempt)
        await context.progress(1.0, "done")
        return jobs_pb2.JobResult(artifacts=[{"name": "finished-by-the-survivor"}])

    start_worker({"test.slow": quick}, lease_seconds=1.0)
    done = await wait_for(queue, job.job_id, lambda j: j.state.terminal, 30)
    assert done.state == JobState.SUCCEEDED
    assert done.attempt == 2 and runs == [2]
    assert [a.name for a in jobs_pb2.JobResult.FromString(done.result).artifacts] == ["finished-by-the-survivor"]


async def test_list_jobs_by_owner_with_filters_and_pages(queue):
    for n in range(5):
        await queue.submit("test.a", "alice", {"n": n})
    await queue.submit("test.b", "alice", {})
    await queue.submit("test.a", "bob", {})
    seen, token = [], ""
    while True:
        page, token = await queue.list("alice", size=2, page_token=token, kind="test.a")
        seen += page
        if not token:
            break
    assert len(seen) == 5 and {j.owner_id for j in seen} == {"alice"}
    assert [j.payload["n"] for j in seen] == [4, 3, 2, 1, 0]
    only_queued, _ = await queue.list("alice", state=JobState.SUCCEEDED)
    assert only_queued == []


async def test_batch_handlers_run_queued_siblings_together(queue, start_worker):
    from beatflow_platform.jobs.worker import BatchHandler

    runs = []

    async def run(contexts):
        runs.append([c.job.payload["n"] for c in contexts])
        if any(c.job.payload["n"] == 1 for c in contexts):
            await queue.cancel(next(c.job.job_id for c in contexts if c.job.payload["n"] == 1), "alice")
        for context in contexts:
            context.cancel_requested = (await queue.get(context.job.job_id)).cancel_requested
        return [jobs_pb2.JobResult(artifacts=[{"name": f"v{c.job.payload['n']}"}]) for c in contexts]

    batch = [await queue.submit("test.batch", "alice", {"batch_id": "b1", "n": n}) for n in range(5)]
    loner = await queue.submit("test.batch", "alice", {"n": 99})
    start_worker({"test.batch": BatchHandler(limit=lambda job: 3, run=run)})
    finished = [await wait_for(queue, job.job_id, lambda j: j.state.terminal) for job in [*batch, loner]]
    assert runs == [[0, 1, 2], [3, 4], [99]]
    states = [job.state for job in finished]
    assert states == [JobState.SUCCEEDED, JobState.CANCELLED, *[JobState.SUCCEEDED] * 4]
    assert jobs_pb2.JobResult.FromString(finished[4].result).artifacts[0].name == "v4"


async def test_job_record_shows_the_published_request_and_nothing_internal(queue):
    separation = {
        "source_blob_id": "b" * 64,
        "engine": "demucs",
        "options": {"model_name": "htdemucs", "segment_seconds": 7.5, "overlap": 0.25, "shifts": 1},
        "revision": "sha256:internal",
        "cache_key": "c" * 64,
    }
    generation = {
        "spec": {"prompt": "dub", "bpm": 70, "key": "G minor", "engine": "procedural", "seed": 2**62 + 1},
        "batch_id": "internal",
    }
    jobs = [
        await queue.submit(kind, "alice", payload)
        for kind, payload in (
            ("separator.separate", separation),
            ("generator.generate", generation),
            ("test.private", {"secret": 1}),
        )
    ]
    separate, generate, private = (json_format.MessageToDict(job_to_proto(job))["request"] for job in jobs)
    assert separate == {
        "source_blob_id": "b" * 64,
        "engine": "demucs",
        "model_name": "htdemucs",
        "segment_seconds": 7.5,
        "overlap": 0.25,
        "shifts": 1,
    }
    # A seed beyond 2**53 keeps every digit; a payload without a source shows none.
    assert generate == {
        "prompt": "dub",
        "bpm": 70,
        "key": "G minor",
        "engine": "procedural",
        "seed": str(2**62 + 1),
        "sampling": {},
        "repo_id": "",
        "commit_id": "",
    }
    assert private == {}
