"""Wires the generator: job queue and workers, engines, the vcs blob client, servicers, gRPC host."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import grpc

from beatflow.generator.v1 import generator_pb2_grpc
from beatflow.jobs.v1 import jobs_pb2_grpc
from beatflow_generator.engines.musicgen import MusicgenEngine
from beatflow_generator.engines.musicgen_melody import MusicgenMelodyEngine
from beatflow_generator.engines.procedural.engine import ProceduralEngine
from beatflow_generator.engines.registry import Engines
from beatflow_generator.jobs import GenerationJobs
from beatflow_generator.servicer import SERVICE_NAME, GeneratorServicer
from beatflow_generator.settings import GeneratorSettings
from beatflow_platform.auth import TokenCodec
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.db.pool import open_pool, ping
from beatflow_platform.grpc.interceptors import AuthScope, rpc_outcome_scope
from beatflow_platform.grpc.server import GrpcHost, ServiceRegistration
from beatflow_platform.jobs import servicer as job_servicer
from beatflow_platform.jobs.events import CHANGED_CHANNEL, QUEUED_CHANNEL, Notifications
from beatflow_platform.jobs.migrate import apply_job_migrations
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.worker import JobWorker
from beatflow_platform.lifecycle import until_signalled
from beatflow_platform.pagination import PageTokens
from beatflow_platform.service_auth import ServiceTokenSource


@dataclass
class GeneratorApp:
    host: GrpcHost
    worker: JobWorker
    worker_task: asyncio.Task | None = None

    async def start(self) -> int:
        port = await self.host.start()
        self.worker_task = asyncio.create_task(self.worker.run(), name="generator-worker")
        return port

    async def stop(self, grace_seconds: float = 30.0) -> None:
        """Stops claiming, gives running jobs `grace_seconds` to finish (an unfinished one is retried
        elsewhere once its lease expires), then drains and stops the gRPC server."""
        self.worker.stop()
        if self.worker_task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.worker_task, grace_seconds)
        await self.host.stop()

    async def serve_until_signalled(self) -> None:
        await self.start()
        await until_signalled()
        await self.stop()


async def build_app(settings: GeneratorSettings) -> GeneratorApp:
    codec = TokenCodec(settings.auth)
    dsn = settings.database.url.get_secret_value()
    if settings.migrate_on_start:
        await apply_job_migrations(dsn)
    pool = await open_pool(settings.database, application_name=f"beatflow-{settings.service_name}")
    queue = JobQueue(pool, PageTokens(settings.auth.jwt_secret.get_secret_value()))
    changes, queued = Notifications(dsn, CHANGED_CHANNEL), Notifications(dsn, QUEUED_CHANNEL)
    await changes.start()
    await queued.start()
    vcs_channel = grpc.aio.insecure_channel(
        settings.vcs_address, options=[("grpc.max_receive_message_length", settings.max_message_bytes)]
    )
    blobs = BlobClient(vcs_channel, ServiceTokenSource(codec, settings.service_name))
    musicgen = MusicgenEngine(
        settings.musicgen_model_dir, device=settings.musicgen_device, max_batch=settings.musicgen_max_batch
    )
    melody = MusicgenMelodyEngine(settings.musicgen_melody_model_dir, device=settings.musicgen_device)
    # Configured weights that fail to load stop the start-up rather than leave an engine half there.
    for engine, directory in ((musicgen, settings.musicgen_model_dir), (melody, settings.musicgen_melody_model_dir)):
        if directory is not None:
            await asyncio.to_thread(engine.load)
    engines = Engines([ProceduralEngine(), musicgen, melody])
    handlers = GenerationJobs(
        engines,
        blobs,
        stem_format=settings.stem_format,
        max_hum_bytes=settings.max_hum_bytes,
        max_hum_seconds=settings.max_hum_seconds,
    ).handlers
    worker = JobWorker(
        queue,
        handlers,
        queued_notifications=queued,
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.job_lease_seconds,
        heartbeat_seconds=settings.job_heartbeat_seconds,
    )
    generator = GeneratorServicer(queue, engines, max_batch=settings.max_batch, max_attempts=settings.job_max_attempts)
    jobs = job_servicer.JobServicer(queue, changes)

    async def close() -> None:
        await changes.close()
        await queued.close()
        await vcs_channel.close()
        await pool.close()

    host = GrpcHost(
        settings,
        [
            ServiceRegistration(
                SERVICE_NAME, lambda s: generator_pb2_grpc.add_GeneratorServiceServicer_to_server(generator, s)
            ),
            ServiceRegistration(
                job_servicer.SERVICE_NAME, lambda s: jobs_pb2_grpc.add_JobServiceServicer_to_server(jobs, s)
            ),
        ],
        scopes=[rpc_outcome_scope, AuthScope(codec)],
        readiness_checks=[lambda: ping(pool)],
        on_shutdown=[close],
    )
    return GeneratorApp(host, worker)
