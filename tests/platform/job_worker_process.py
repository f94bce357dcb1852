"""A worker process the job tests start and kill: `python -m tests.platform.job_worker_process DSN`."""

from __future__ import annotations

import asyncio
import sys

from beatflow.jobs.v1 import jobs_pb2
from beatflow_platform.db.pool import open_pool
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.worker import JobWorker
from beatflow_platform.pagination import PageTokens
from beatflow_platform.settings import DatabaseSettings


async def slow(context) -> jobs_pb2.JobResult:
    for step in range(600):
        await context.progress(step / 600, "working", f"step {step}")
        await asyncio.sleep(0.05)
    return jobs_pb2.JobResult(artifacts=[{"name": "finished-by-the-killed-worker"}])


async def main(dsn: str) -> None:
    pool = await open_pool(DatabaseSettings(url=dsn), application_name="killable-worker")
    worker = JobWorker(
        JobQueue(pool, PageTokens("tests")),
        {"test.slow": slow},
        lease_seconds=1.0,
        heartbeat_seconds=0.2,
        poll_seconds=0.1,
        worker_id="doomed",
    )
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
