"""Fair claims across owners, priorities, per-user limits, and queue position / ETA, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from google.rpc import error_details_pb2

from beatflow.jobs.v1 import jobs_pb2
from beatflow_generator.app import build_app
from beatflow_generator.settings import GeneratorSettings
from beatflow_platform.jobs.estimates import Rates
from beatflow_platform.jobs.estimator import Estimator
from beatflow_platform.jobs.limits import LimitExceeded, UserLimits, check_audio_seconds
from beatflow_platform.jobs.model import JobState, NewJob, Priority, RetryPolicy
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.servicer import job_to_proto
from beatflow_platform.pagination import PageTokens
from tests.gateway.conftest import in_process_gateway, signed_in

KIND = "test.render"


def make_queue(pool, **limits) -> JobQueue:
    return JobQueue(pool, PageTokens("fair-tests"), UserLimits(**limits), Estimator(rate_ttl_seconds=0))


async def submit_many(queue: JobQueue, owner: str, count: int, **options) -> list[str]:
    jobs = await queue.submit_many(owner, [NewJob(KIND, {"n": n}, **options) for n in range(count)])
    return [job.job_id for job in jobs]


async def claim_owner(queue: JobQueue, worker: str = "w") -> str | None:
    job = await queue.claim([KIND], worker, 30)
    return job.owner_id if job else None


async def test_a_heavy_users_queue_does_not_delay_a_light_users_job(pool):
    queue = make_queue(pool)
    await submit_many(queue, "heavy", 200)
    assert await claim_owner(queue) == "heavy"  # heavy now runs one job and was served last
    light = await queue.submit(KIND, "light", {})
    claimed = await queue.claim([KIND], "w2", 30)
    assert claimed.job_id == light.job_id  # the very next claim, ahead of 199 older jobs
    # With nothing of its own running, heavy takes turns with the other owners, oldest job first.
    for owner in ("carol", "dave"):
        await submit_many(queue, owner, 3)
    order = [await claim_owner(queue) for _ in range(6)]
    assert order[:2] == ["carol", "dave"]  # owners running nothing go before heavy (running 1)
    assert order.count("heavy") == 2 and order.count("carol") == 2 and order.count("dave") == 2


async def test_round_robin_follows_least_recent_service(pool):
    queue = make_queue(pool)
    for owner in ("a", "b", "c"):
        await submit_many(queue, owner, 4)
    claimed = [await queue.claim([KIND], "w", 30) for _ in range(9)]
    for job in claimed:  # finishing keeps running counts equal, so turns decide
        await queue.finish(job.job_id, "w", JobState.SUCCEEDED)
    owners = [job.owner_id for job in claimed]
    assert owners == ["a", "b", "c"] * 3
    assert [job.payload["n"] for job in claimed if job.owner_id == "a"] == [0, 1, 2]


async def test_concurrent_claims_over_many_owners_take_each_job_once(pool):
    queue = make_queue(pool)
    submitted = set()
    for owner in ("a", "b", "c"):
        submitted |= set(await submit_many(queue, owner, 10))

    async def claimer(name):
        taken = []
        while (job := await queue.claim([KIND], name, 30)) is not None:
            taken.append(job.job_id)
        return taken

    results = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    claimed = [job_id for taken in results for job_id in taken]
    assert sorted(claimed) == sorted(submitted)


async def test_interactive_jobs_go_before_batch_jobs(pool):
    queue = make_queue(pool)
    batch = await submit_many(queue, "batcher", 5, priority=Priority.BATCH)
    await submit_many(queue, "clicker", 2)
    # Positions follow the classes: both interactive jobs are ahead of the oldest batch job.
    assert [(await queue.get(job_id)).queue_position for job_id in batch[:2]] == [3, 4]
    first = [await queue.claim([KIND], "w", 30) for _ in range(3)]
    assert [(job.owner_id, job.priority) for job in first] == [
        ("clicker", Priority.INTERACTIVE),
        ("clicker", Priority.INTERACTIVE),
        ("batcher", Priority.BATCH),
    ]
    assert job_to_proto(first[2]).priority == jobs_pb2.JOB_PRIORITY_BATCH


async def test_an_owner_at_the_running_cap_waits_while_others_are_served(pool):
    queue = make_queue(pool, max_running_jobs=1)
    await submit_many(queue, "a", 3)
    assert await claim_owner(queue) == "a"
    assert await queue.claim([KIND], "w", 30) is None  # a's second job waits for its first
    await submit_many(queue, "b", 1)
    assert await claim_owner(queue) == "b"


async def test_a_job_waiting_to_be_retried_holds_up_nobody(pool):
    queue = JobQueue(pool, PageTokens("fair-tests"), retries=RetryPolicy(base_seconds=60), estimator=Estimator(0))
    first, second = await submit_many(queue, "alice", 2)
    failing = await queue.claim([KIND], "w", 30)
    assert failing.job_id == first
    await queue.retry_later(first, "w", "object store down")  # back in the queue for about a minute
    (bobs,) = await submit_many(queue, "bob", 1)
    # Alice's waiting job counts as neither running nor next: her other job and Bob's are served.
    claimed = [await queue.claim([KIND], "w", 30) for _ in range(2)]
    assert sorted((job.owner_id, job.job_id) for job in claimed) == [("alice", second), ("bob", bobs)]
    assert await queue.claim([KIND], "w", 30) is None
    assert 45 <= await queue.seconds_until_due([KIND]) <= 75


async def test_queued_limit_names_the_limit_and_says_when_to_retry(pool):
    queue = make_queue(pool, max_queued_jobs=3)
    first = await queue.submit(KIND, "alice", {}, request_id="first")
    await submit_many(queue, "alice", 2)
    with pytest.raises(LimitExceeded) as raised:
        await queue.submit(KIND, "alice", {})
    error = raised.value
    assert error.reason == "USER_LIMIT_EXCEEDED" and error.metadata["limit"] == "max_queued_jobs"
    assert error.metadata["limit_value"] == "3"
    [retry] = [detail for detail in error.details() if isinstance(detail, error_details_pb2.RetryInfo)]
    assert retry.retry_delay.seconds >= 1  # the gateway's Retry-After
    # A retried submit is not a new job; other owners are not affected; a batch is all or none.
    assert (await queue.submit(KIND, "alice", {}, request_id="first")).job_id == first.job_id
    await queue.submit(KIND, "bob", {})
    await queue.cancel(first.job_id, "alice")
    with pytest.raises(LimitExceeded):
        await submit_many(queue, "alice", 2)
    assert len((await queue.list("alice", state=JobState.QUEUED))[0]) == 2
    await queue.submit(KIND, "alice", {})


async def test_audio_seconds_per_day_limit(pool):
    queue = make_queue(pool, max_audio_seconds_per_day=60)
    await queue.submit(KIND, "alice", {}, audio_seconds=40)
    with pytest.raises(LimitExceeded) as raised:
        await queue.submit(KIND, "alice", {}, audio_seconds=30)
    assert raised.value.metadata["limit"] == "max_audio_seconds_per_day"
    # The first job leaves the rolling day about 24 h from now.
    assert 86_000 < raised.value.retry_after_seconds <= 86_400
    with pytest.raises(LimitExceeded) as too_long:
        await queue.submit(KIND, "bob", {}, audio_seconds=61)
    assert too_long.value.retry_after_seconds is None  # it would never fit
    await queue.submit(KIND, "alice", {}, audio_seconds=20)  # exactly the allowance


def test_audio_allowance_frees_as_old_jobs_leave_the_window():
    now = datetime(2026, 1, 2, tzinfo=UTC)
    usage = [(now - timedelta(hours=23), 30.0), (now - timedelta(hours=10), 30.0)]
    limits = UserLimits(max_audio_seconds_per_day=90)
    check_audio_seconds(limits, usage, 30, now)
    with pytest.raises(LimitExceeded) as first_frees:
        check_audio_seconds(limits, usage, 40, now)
    assert first_frees.value.retry_after_seconds == 3600
    with pytest.raises(LimitExceeded) as both_free:
        check_audio_seconds(limits, usage, 80, now)
    assert both_free.value.retry_after_seconds == 14 * 3600


async def test_queue_position_and_eta_follow_measured_run_times(pool):
    queue = make_queue(pool)
    # Measured history: 1 s of audio takes about 0.2 s here (a real-time factor of 0.2).
    for _ in range(3):
        await queue.submit(KIND, "history", {}, audio_seconds=1.0, engine="fake")
        job = await queue.claim([KIND], "w", 30)
        await asyncio.sleep(0.2)
        await queue.finish(job.job_id, "w", JobState.SUCCEEDED)
    rate = (await measured_rates(pool)).by_key[KIND, "fake"].seconds_per_audio_second
    assert 0.15 < rate < 1.0
    mine = await submit_many(queue, "alice", 4, audio_seconds=10.0, engine="fake")
    jobs = [await queue.get(job_id, "alice") for job_id in mine]
    assert [job.queue_position for job in jobs] == [1, 2, 3, 4]
    etas = [job.eta_seconds for job in jobs]
    assert etas == sorted(etas) and len(set(etas)) == 4
    assert etas[0] == pytest.approx(10 * rate, rel=0.01) and etas[3] == pytest.approx(40 * rate, rel=0.01)
    # Another owner's new job is in line after alice's first, not behind all four.
    bob = await queue.submit(KIND, "bob", {}, audio_seconds=10.0, engine="fake")
    assert bob.queue_position == 2
    running = await queue.claim([KIND], "w", 30)
    assert running.owner_id == "alice"
    now_running = await queue.get(running.job_id)
    assert now_running.queue_position == 0 and 0 < now_running.eta_seconds <= 10 * rate
    # alice's last job now waits behind her second and third and bob's one.
    proto = job_to_proto(await queue.get(mine[3], "alice"))
    assert proto.queue_position == 4 and proto.eta_seconds > 3 * 10 * rate and proto.audio_seconds == 10.0
    await queue.finish(running.job_id, "w", JobState.SUCCEEDED)
    assert (await queue.get(running.job_id)).eta_seconds is None


async def measured_rates(pool) -> Rates:
    async with pool.connection() as conn:
        return await Estimator(rate_ttl_seconds=0).rates(conn)


def test_rates_fall_back_to_defaults_and_per_job_medians():
    rates = Rates.from_samples([("k", "e", 10.0, 5.0), ("k", "e", 20.0, 8.0), ("k", "e", 0.0, 30.0)])
    assert rates.seconds("k", "e", 10.0) == pytest.approx(4.5)  # median of 0.5 and 0.4 per audio second
    assert rates.seconds("k", "e", 0.0) == 8.0  # unknown length: the median job
    assert rates.seconds("other", "e", 10.0) == 10.0  # no history: the documented default


async def test_over_rest_a_limit_is_429_with_retry_after_and_status_shows_the_queue(job_service_factory):
    """A generator without workers (jobs stay queued) behind the gateway, with 2 queued jobs per user."""
    generator = await job_service_factory(
        build_app, GeneratorSettings, worker_concurrency=0, user_max_queued_jobs=2, user_max_audio_seconds_per_day=0
    )
    async with in_process_gateway(
        vcs_address=f"127.0.0.1:{generator.vcs.port}",
        generator_address=f"127.0.0.1:{generator.port}",
        separator_address=f"127.0.0.1:{generator.port}",
        call_timeout_seconds=10,
    ) as http:
        headers = await signed_in(http)
        body = {"prompt": "slow dub", "duration": 8, "seed": 1}
        accepted = [(await http.post("/api/ai/generate", json=body, headers=headers)) for _ in range(2)]
        assert [response.status_code for response in accepted] == [202, 202]
        refused = await http.post("/api/ai/generate", json=body, headers=headers)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert "max_queued_jobs" in refused.text
        second = (await http.get(f"/api/jobs/{accepted[1].json()['task_id']}", headers=headers)).json()
        assert second["queue_position"] == 2 and second["eta_seconds"] > 0 and second["audio_seconds"] == 8
        assert second["priority"] == "JOB_PRIORITY_INTERACTIVE"
