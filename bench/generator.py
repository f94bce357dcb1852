"""Generator figures: procedural real-time factor, job queue throughput and claim latency with
4 workers, and WatchJob event latency over gRPC, against a private PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import time

import grpc

from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow_audio import codec
from beatflow_audio.theory import Key
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import LocalPostgres, reachable_tempdir
from beatflow_generator.engines.procedural.engine import ProceduralEngine
from beatflow_generator.spec import GenerationSpec
from beatflow_platform.auth import TokenCodec
from beatflow_platform.db.pool import open_pool
from beatflow_platform.grpc.interceptors import AuthScope, rpc_outcome_scope
from beatflow_platform.grpc.server import GrpcHost, ServiceRegistration
from beatflow_platform.jobs import servicer as job_servicer
from beatflow_platform.jobs.events import CHANGED_CHANNEL, QUEUED_CHANNEL, Notifications
from beatflow_platform.jobs.migrate import apply_job_migrations
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.worker import JobWorker
from beatflow_platform.logging import configure_logging
from beatflow_platform.pagination import PageTokens
from beatflow_platform.settings import AuthSettings, DatabaseSettings, ServiceSettings

AUDIO_SECONDS = 30.0
THROUGHPUT_JOBS = 400
LATENCY_JOBS = 60
WATCH_EVENTS = 60
AUTH = AuthSettings(jwt_secret="bench-secret-that-is-long-enough-0123456789")


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[-1]


def procedural_figures() -> dict[str, float]:
    engine = ProceduralEngine()
    spec = GenerationSpec(
        prompt="boom bap hip-hop",
        bpm=92,
        mood="",
        duration_seconds=AUDIO_SECONDS,
        key=Key.parse("A minor"),
        engine="procedural",
        seed=1,
    )
    engine.render(spec, lambda *_: None)  # warm-up (imports, allocator)
    render, total = [], []
    for seed in range(5):
        started = time.perf_counter()
        rendering = engine.render(GenerationSpec(**{**spec.__dict__, "seed": seed}), lambda *_: None)
        rendered = time.perf_counter()
        for stem in rendering.stems.values():
            codec.encode(stem, rendering.sample_rate, "FLAC")
        render.append(rendered - started)
        total.append(time.perf_counter() - started)
    return {
        "procedural_realtime_factor": round(AUDIO_SECONDS / statistics.median(render), 1),
        "procedural_with_flac_encoding_realtime_factor": round(AUDIO_SECONDS / statistics.median(total), 1),
    }


async def _queue_figures(dsn: str) -> dict[str, float]:
    await apply_job_migrations(dsn)
    pool = await open_pool(DatabaseSettings(url=dsn, pool_max_size=20), application_name="bench-jobs")
    queue = JobQueue(pool, PageTokens("bench"))
    queued, changes = Notifications(dsn, QUEUED_CHANNEL), Notifications(dsn, CHANGED_CHANNEL)
    await queued.start()
    await changes.start()

    async def noop(context):
        return jobs_pb2.JobResult()

    ticks: list[float] = []

    async def ticking(context):
        for step in range(WATCH_EVENTS):
            await asyncio.sleep(0.03)
            ticks.append(time.perf_counter())
            await context.progress((step + 1) / WATCH_EVENTS, "tick", str(step))
        return jobs_pb2.JobResult()

    workers = [
        JobWorker(queue, {"bench.noop": noop, "bench.tick": ticking}, queued_notifications=queued, poll_seconds=5)
        for _ in range(4)
    ]
    runs = [asyncio.create_task(w.run()) for w in workers]
    figures: dict[str, float] = {}
    try:
        # Throughput: a backlog drained by 4 workers.
        started = time.perf_counter()
        backlog = [await queue.submit("bench.noop", "bench", {"n": n}) for n in range(THROUGHPUT_JOBS)]
        while sum(w.completed for w in workers) < THROUGHPUT_JOBS:
            await asyncio.sleep(0.01)
        figures["job_throughput_per_s_4_workers"] = round(THROUGHPUT_JOBS / (time.perf_counter() - started), 1)
        # Claim latency: idle workers woken by NOTIFY.
        latencies = []
        for n in range(LATENCY_JOBS):
            job = await queue.submit("bench.noop", "bench", {"n": n})
            while (current := await queue.get(job.job_id)).started_at is None:
                await asyncio.sleep(0.002)
            latencies.append((current.started_at - current.created_at).total_seconds() * 1000)
            await asyncio.sleep(0.02)
        figures["job_claim_latency_ms_median"] = round(statistics.median(latencies), 2)
        figures["job_claim_latency_ms_p99"] = round(_p99(latencies), 2)
        figures["job_backlog_size"] = len(backlog)
        figures.update(await _watch_latency(queue, changes, ticks))
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.gather(*runs)
        await queued.close()
        await changes.close()
        await pool.close()
    return figures


async def _watch_latency(queue: JobQueue, changes: Notifications, ticks: list[float]) -> dict[str, float]:
    """Time from a worker's progress report to the WatchJob message reaching a gRPC client."""
    codec = TokenCodec(AUTH)
    jobs = job_servicer.JobServicer(queue, changes)
    host = GrpcHost(
        ServiceSettings(grpc_port=0, auth=AUTH, shutdown_grace_seconds=1),
        [
            ServiceRegistration(
                job_servicer.SERVICE_NAME, lambda s: jobs_pb2_grpc.add_JobServiceServicer_to_server(jobs, s)
            )
        ],
        scopes=[rpc_outcome_scope, AuthScope(codec)],
    )
    port = await host.start()
    delays = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = jobs_pb2_grpc.JobServiceStub(channel)
            job = await queue.submit("bench.tick", "bench", {})
            metadata = (("authorization", f"Bearer {codec.issue('bench')}"),)
            async for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.job_id), metadata=metadata):
                received = time.perf_counter()
                if event.job.progress.stage == "tick":
                    step = int(event.job.progress.message)
                    delays.append((received - ticks[step]) * 1000)
    finally:
        await host.stop()
    return {
        "watch_event_latency_ms_median": round(statistics.median(delays), 2),
        "watch_event_latency_ms_p99": round(_p99(delays), 2),
        "watch_events_received": len(delays),
    }


def run() -> dict[str, float]:
    configure_logging("WARNING")
    figures = procedural_figures()
    base = reachable_tempdir("beatflow-bench-generator-")
    cluster = LocalPostgres(base / "pg", free_port())
    cluster.init()
    cluster.start(fsync=False)
    try:
        figures.update(asyncio.run(_queue_figures(cluster.dsn())))
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    return figures
