"""Retries wait an exponential back-off with jitter, on a real PostgreSQL: after a passing fault and
after a lost worker; the claim honours it, the job's status says when it runs again."""

from __future__ import annotations

import asyncio
import itertools
import re
import statistics
import time
from datetime import UTC, datetime

import pytest

from beatflow_platform.db.queries import fetch_all
from beatflow_platform.errors import Unavailable
from beatflow_platform.jobs.events import QUEUED_CHANNEL, Notifications
from beatflow_platform.jobs.model import JobState, RetryPolicy
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.worker import JobWorker
from beatflow_platform.pagination import PageTokens
from tests.platform.test_jobs import wait_for

KIND = "test.flaky"


def make_queue(pool, **policy) -> JobQueue:
    return JobQueue(pool, PageTokens("retry-tests"), retries=RetryPolicy(**policy))


def stored_delay(job) -> float:
    """Seconds from the job's return to the queue to its next allowed claim."""
    return (job.run_after - job.updated_at).total_seconds()


async def test_backoff_doubles_per_attempt_up_to_the_cap_with_jitter(pool):
    async with pool.connection() as conn:
        rows = await fetch_all(
            conn,
            "SELECT attempt, jobs.retry_delay_seconds(attempt, 2, 10, 0.25) AS seconds"
            " FROM generate_series(1, 5) attempt, generate_series(1, 200) sample",
        )
        huge = await fetch_all(conn, "SELECT jobs.retry_delay_seconds(100000, 2, 10, 0) AS seconds")
    by_attempt: dict[int, list[float]] = {}
    for row in rows:
        by_attempt.setdefault(row["attempt"], []).append(row["seconds"])
    for attempt, nominal in {1: 2, 2: 4, 3: 8, 4: 10, 5: 10}.items():
        delays = by_attempt[attempt]
        assert 0.75 * nominal <= min(delays) and max(delays) <= 1.25 * nominal
        assert max(delays) - min(delays) > 0.35 * nominal  # spread out, not one instant for all
        assert statistics.mean(delays) == pytest.approx(nominal, rel=0.06)
    assert huge[0]["seconds"] == 10  # no overflow however many attempts


async def test_a_failed_attempt_waits_its_backoff_and_says_when_it_runs_again(pool):
    queue = make_queue(pool, base_seconds=1.0, max_seconds=10, jitter=0.25)
    job = await queue.submit(KIND, "alice", {}, max_attempts=2)
    claimed = await queue.claim([KIND], "w1", 30)
    await queue.retry_later(claimed.job_id, "w1", "object store down")

    waiting = await queue.get(job.job_id)
    assert (waiting.state, waiting.attempt, waiting.error_code) == (JobState.QUEUED, 1, None)
    assert 0.75 <= stored_delay(waiting) <= 1.25
    assert waiting.progress_stage == "retrying"
    shown = re.fullmatch(r"attempt 1 of 2: object store down; next attempt at (\S+)", waiting.progress_message).group(1)
    assert abs((datetime.fromisoformat(shown) - waiting.run_after).total_seconds()) < 1
    assert waiting.eta_seconds >= (waiting.run_after - datetime.now(UTC)).total_seconds()

    assert await queue.claim([KIND], "w2", 30) is None  # not before its time
    due = await queue.seconds_until_due([KIND])
    assert 0 < due <= 1.25
    assert await queue.seconds_until_due(["test.other"]) is None
    await asyncio.sleep(due + 0.05)
    again = await queue.claim([KIND], "w2", 30)
    assert (again.job_id, again.attempt) == (job.job_id, 2)

    await queue.retry_later(again.job_id, "w2", "object store still down")
    failed = await queue.get(job.job_id)
    assert (failed.state, failed.error_code, failed.error_message) == (
        JobState.FAILED,
        "UNAVAILABLE",
        "object store still down",
    )


async def test_a_worker_retries_a_failing_handler_after_each_backoff_then_fails_it(pool, database_dsn):
    queue = make_queue(pool, base_seconds=0.4, max_seconds=10, jitter=0.25)
    starts: list[float] = []

    async def flaky(context):
        starts.append(time.monotonic())
        raise Unavailable("the vcs is restarting")

    queued = Notifications(database_dsn, QUEUED_CHANNEL)
    await queued.start()
    # A long poll: the worker must wake by itself when the back-off ends, not find the job by chance.
    worker = JobWorker(queue, {KIND: flaky}, queued_notifications=queued, poll_seconds=30, heartbeat_seconds=0.2)
    running = asyncio.create_task(worker.run())
    try:
        job = await queue.submit(KIND, "alice", {}, max_attempts=3)
        done = await wait_for(queue, job.job_id, lambda j: j.state.terminal, timeout=20)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 10)
        await queued.close()
    assert (done.state, done.attempt, done.error_code) == (JobState.FAILED, 3, "UNAVAILABLE")
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 2
    assert gaps[0] >= 0.75 * 0.4 and gaps[1] >= 0.75 * 0.8  # never before the back-off
    assert max(gaps) < 5  # and woken when it ends, long before the 30 s poll


async def test_a_job_that_lost_its_worker_comes_back_after_the_backoff(pool):
    queue = make_queue(pool, base_seconds=30, max_seconds=300, jitter=0.25)
    lost = await queue.submit(KIND, "alice", {})
    abandoned = await queue.submit(KIND, "alice", {})
    for job in (lost, abandoned):
        assert (await queue.claim([KIND], "vanishing", lease_seconds=0.1)).job_id == job.job_id
    await queue.cancel(abandoned.job_id, "alice")
    await asyncio.sleep(0.2)
    assert await queue.requeue_expired() == 2

    waiting = await queue.get(lost.job_id)
    assert waiting.state == JobState.QUEUED and 22.5 <= stored_delay(waiting) <= 37.5
    assert waiting.progress_message.startswith("attempt 1 of 3: its worker stopped responding; next attempt at ")
    assert waiting.eta_seconds >= 22
    assert (await queue.get(abandoned.job_id)).state == JobState.CANCELLED  # its owner no longer wants it
    assert await queue.claim([KIND], "survivor", 30) is None
