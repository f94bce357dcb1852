"""Fair scheduling under a flood, on the real queue and a real PostgreSQL with short fake jobs.

One user holds 1,000 queued jobs while workers run them; another user submits a job now and then,
at a random moment of the running jobs. Each light job should start when the next worker frees,
within one job duration (target: p95 <= 2x). The FIFO baseline in the same run is what first in,
first out would have made it wait: the heavy jobs queued ahead of it x job duration / workers.
Then the cost of one claim with one owner queued and with 200 (the latter also before the planner's
statistics caught up with the burst of submits), beside the floor under any claim on this machine:
the commit of a one-row write (a WAL flush; on a shared disk it can dominate a claim).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import time

from pydantic import SecretStr

from beatflow.jobs.v1 import jobs_pb2
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import LocalPostgres, reachable_tempdir
from beatflow_platform.db.pool import open_pool
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.jobs.events import QUEUED_CHANNEL, Notifications
from beatflow_platform.jobs.migrate import apply_job_migrations
from beatflow_platform.jobs.model import JobState, NewJob
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.worker import JobWorker
from beatflow_platform.pagination import PageTokens
from beatflow_platform.settings import DatabaseSettings

KIND = "bench.fake"
HEAVY_JOBS = 1000
JOB_SECONDS = 0.25
WORKERS = 2
SAMPLES = 40
CLAIMS_TIMED = 30


async def _fake_job(context) -> jobs_pb2.JobResult:
    await asyncio.sleep(JOB_SECONDS)
    return jobs_pb2.JobResult()


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


async def _queued_jobs(conn) -> int:
    row = await fetch_one(conn, "SELECT count(*) AS n FROM jobs.jobs WHERE state = 'queued'")
    assert row is not None  # an aggregate always has a row
    return row["n"]


async def _light_user_waits(queue: JobQueue, pool) -> dict[str, float]:
    waits, fifo_waits = [], []
    for n in range(SAMPLES):
        await asyncio.sleep(JOB_SECONDS * (1 + random.random()))  # lands anywhere in a running job
        async with pool.connection() as conn:
            ahead = await _queued_jobs(conn)
        job = await queue.submit(KIND, "light", {"n": n})
        while (job := await queue.get(job.job_id)).state == JobState.QUEUED:
            await asyncio.sleep(0.01)
        assert job.started_at is not None  # no longer queued: a worker started it
        waits.append((job.started_at - job.created_at).total_seconds())
        fifo_waits.append(ahead * JOB_SECONDS / WORKERS)
    async with pool.connection() as conn:
        runs = await fetch_all(
            conn,
            "SELECT extract(epoch FROM ended_at - started_at)::float8 AS s FROM jobs.jobs"
            " WHERE owner_id = 'heavy' AND state = 'succeeded'",
        )
        left = await _queued_jobs(conn)
    duration = statistics.median(row["s"] for row in runs)
    return {
        "fair_light_user_wait_s_p95": round(_p95(waits), 3),
        "fair_light_user_wait_s_p50": round(statistics.median(waits), 3),
        "fair_job_duration_s": round(duration, 3),
        "fair_light_user_wait_p95_over_job_duration": round(_p95(waits) / duration, 2),
        "fair_heavy_user_queued_jobs_at_end": left,
        "fifo_light_user_wait_s_p50": round(statistics.median(fifo_waits), 1),
    }


async def _claim_ms(queue: JobQueue) -> float:
    timings = []
    for _ in range(CLAIMS_TIMED):
        started = time.perf_counter()
        job = await queue.claim([KIND], "timer", 30)
        assert job is not None  # more jobs are queued than timed
        timings.append((time.perf_counter() - started) * 1000)
        await queue.finish(job.job_id, "timer", JobState.SUCCEEDED)
    return round(statistics.median(timings), 2)


async def _write_commit_ms(pool) -> float:
    """The median commit of a one-row write to the same database (what a claim's own commit costs at least)."""
    timings = []
    for _ in range(CLAIMS_TIMED):
        async with pool.connection() as conn:
            started = time.perf_counter()
            await conn.execute("UPDATE jobs.owner_turns SET last_claimed_at = now() WHERE owner_id = 'heavy'")
            await conn.commit()
            timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


async def _analyze(pool) -> None:
    """Planner statistics that know the queued jobs (autovacuum's analyze brings them within minutes; a
    table with history has them anyway). Until then, as here right after the migrations, the table was
    last analysed empty: `fair_claim_ms_median_200_owners_before_analyze` is what claims cost meanwhile."""
    async with pool.connection() as conn:
        await conn.execute("ANALYZE jobs.jobs")


async def _measure(dsn: str, figures: dict[str, float | str]) -> None:
    await apply_job_migrations(dsn)
    pool = await open_pool(DatabaseSettings(url=SecretStr(dsn), pool_max_size=8), application_name="bench-fair")
    queued = Notifications(dsn, QUEUED_CHANNEL)
    await queued.start()
    try:
        queue = JobQueue(pool, PageTokens("bench-fair"))  # no limits: the heavy user may fill every worker
        await queue.submit_many("heavy", [NewJob(KIND, {"n": n}) for n in range(HEAVY_JOBS)])
        figures["fair_claim_ms_median_1_owner"] = await _claim_ms(queue)
        worker = JobWorker(queue, {KIND: _fake_job}, queued_notifications=queued, concurrency=WORKERS)
        running = asyncio.create_task(worker.run())
        try:
            figures |= await _light_user_waits(queue, pool)
        finally:
            worker.stop()
            await running
        for owner in range(200):
            await queue.submit_many(f"user-{owner}", [NewJob(KIND, {"n": n}) for n in range(5)])
        figures["fair_claim_ms_median_200_owners_before_analyze"] = await _claim_ms(queue)
        await _analyze(pool)
        figures["fair_claim_ms_median_200_owners"] = await _claim_ms(queue)
        figures["fair_write_commit_ms_median"] = await _write_commit_ms(pool)
    finally:
        await queued.close()
        await pool.close()


def fair_scheduling(figures: dict[str, float | str] | None = None) -> dict[str, float | str]:
    """The figures above; fills `figures` as it measures (what it got survives a failure)."""
    figures = {} if figures is None else figures
    base = reachable_tempdir("beatflow-bench-fair-")
    postgres = LocalPostgres(base / "pg", free_port())
    postgres.init()
    postgres.start()
    try:
        asyncio.run(_measure(postgres.dsn(), figures))
        return figures
    finally:
        postgres.stop()
        shutil.rmtree(base, ignore_errors=True)
