"""SIGTERM to a generator process while clients watch its jobs: it goes NOT_SERVING at once,
the running job finishes and its watcher sees the end, a queued job's watcher is told to watch
again (UNAVAILABLE), the queued job stays queued for another replica, and the process exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from beatflow.generator.v1 import generator_pb2 as pb
from beatflow.generator.v1 import generator_pb2_grpc
from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow_devtools.network import free_port
from tests.fixtures.keys import JWT_SECRET, KEYS

pytestmark = pytest.mark.slow


async def _health(channel: grpc.aio.Channel) -> int:
    try:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    except grpc.aio.AioRpcError:
        return -1
    return response.status


async def _watch(stub, job_id: str, metadata, seen: list) -> grpc.StatusCode:
    """Records every event; returns how the stream ended."""
    try:
        async for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id), metadata=metadata, timeout=120):
            seen.append(event.job)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.fixture
async def generator_process(vcs, database_dsn):
    port = free_port()
    prefix = "BEATFLOW_GENERATOR_"
    settings = {
        "GRPC_PORT": str(port),
        "VCS_ADDRESS": f"127.0.0.1:{vcs.port}",
        "DATABASE__URL": database_dsn,
        "AUTH__JWT_SECRET": JWT_SECRET,
        **KEYS.environment("generator"),
        "WORKER_CONCURRENCY": "1",
        "JOB_HEARTBEAT_SECONDS": "1",
        "JOB_GRACE_SECONDS": "60",
        "SHUTDOWN_GRACE_SECONDS": "5",
        "LOG_JSON": "false",
    }
    env = {**os.environ, **{prefix + key: value for key, value in settings.items()}}
    process = subprocess.Popen([sys.executable, "-m", "beatflow_generator"], env=env)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        for _ in range(300):
            if await _health(channel) == health_pb2.HealthCheckResponse.SERVING:
                break
            await asyncio.sleep(0.1)
        yield process, channel
    finally:
        await channel.close()
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_sigterm_finishes_running_work_and_hands_back_the_rest(vcs, database_dsn, generator_process):
    process, channel = generator_process
    alice = await vcs.sign_up()
    generator = generator_pb2_grpc.GeneratorServiceStub(channel)
    jobs = jobs_pb2_grpc.JobServiceStub(channel)

    async def submit(seed: int) -> str:
        params = pb.GenerationParams(prompt="long ambient drone", duration_seconds=300, seed=seed)
        response = await generator.Generate(pb.GenerateRequest(params=params), metadata=alice.metadata)
        return response.job.job_id

    running_id, queued_id = await submit(1), await submit(2)
    running_events, queued_events = [], []
    running_watch = asyncio.ensure_future(_watch(jobs, running_id, alice.metadata, running_events))
    queued_watch = asyncio.ensure_future(_watch(jobs, queued_id, alice.metadata, queued_events))
    while not any(job.state == jobs_pb2.JOB_STATE_RUNNING for job in running_events):
        await asyncio.sleep(0.05)

    process.send_signal(signal.SIGTERM)
    for _ in range(50):  # announced within a few hundred milliseconds, long before the job ends
        if await _health(channel) == health_pb2.HealthCheckResponse.NOT_SERVING:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("health never reported NOT_SERVING after SIGTERM")
    assert not running_watch.done(), "the running job's watcher is still being served"

    assert await asyncio.wait_for(running_watch, 90) == grpc.StatusCode.OK
    assert running_events[-1].state == jobs_pb2.JOB_STATE_SUCCEEDED
    assert {a.name for a in running_events[-1].result.artifacts} >= {"mix", "bass", "melody"}
    assert await asyncio.wait_for(queued_watch, 30) == grpc.StatusCode.UNAVAILABLE
    assert all(job.state == jobs_pb2.JOB_STATE_QUEUED for job in queued_events)
    assert await asyncio.to_thread(process.wait, 30) == 0
    with psycopg.connect(database_dsn) as db:
        state, attempt = db.execute("SELECT state, attempt FROM jobs.jobs WHERE id = %s", (queued_id,)).fetchone()
    assert (state, attempt) == ("queued", 0), "left for another replica, untouched"
