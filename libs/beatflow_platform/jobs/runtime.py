"""What every service that runs jobs shares: settings, the queue and its notifications, the vcs
blob client, the JobService, and an app that stops its workers before its gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from pydantic import Field

from beatflow.jobs.v1 import jobs_pb2_grpc
from beatflow_platform.auth import TokenVerifier
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.db.pool import DictPool, open_pool, ping
from beatflow_platform.grpc.interceptors import AuthScope, rpc_outcome_scope
from beatflow_platform.grpc.server import GrpcHost, ServiceRegistration
from beatflow_platform.jobs import servicer as job_servicer
from beatflow_platform.jobs.events import CHANGED_CHANNEL, QUEUED_CHANNEL, Notifications
from beatflow_platform.jobs.limits import UserLimits
from beatflow_platform.jobs.migrate import apply_job_migrations
from beatflow_platform.jobs.model import RetryPolicy
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.worker import BatchHandler, Handler, JobWorker
from beatflow_platform.lifecycle import until_signalled
from beatflow_platform.pagination import PageTokens
from beatflow_platform.project_reader import ProjectReader
from beatflow_platform.service_auth import ServiceTokenSource
from beatflow_platform.sessions import SessionGuard, VcsSessionLookup
from beatflow_platform.settings import ServiceSettings

# The audience of this service's tokens for vcs (vcs's `service_name`).
VCS_SERVICE_NAME = "vcs"


class JobServiceSettings(ServiceSettings):
    # Where blobs are read and written (the vcs BlobService), and projects checked.
    vcs_address: str = "127.0.0.1:50061"
    # Jobs run at once in this process.
    worker_concurrency: int = Field(default=1, ge=0, le=64)
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_heartbeat_seconds: float = Field(default=10.0, gt=0)
    job_max_attempts: int = Field(default=3, ge=1)
    # A failed attempt (a passing fault, or a lost worker) is retried after base x 2^(attempt-1) seconds,
    # at most job_retry_max_seconds, +- job_retry_jitter of that (0.25: +-25 %).
    job_retry_base_seconds: float = Field(default=2.0, ge=0)
    job_retry_max_seconds: float = Field(default=300.0, ge=0)
    job_retry_jitter: float = Field(default=0.25, ge=0, lt=1)
    # Seconds running jobs get to finish after SIGTERM (an unfinished one is retried elsewhere).
    job_grace_seconds: float = Field(default=30.0, ge=0)
    # Per-user limits (0: none). Queued jobs and audio-seconds per rolling day are checked at submit
    # (429 naming the limit, with Retry-After); running jobs are capped when workers claim.
    user_max_queued_jobs: int = Field(default=50, ge=0)
    user_max_running_jobs: int = Field(default=4, ge=0)
    user_max_audio_seconds_per_day: float = Field(default=3600.0, ge=0)
    # Apply pending migrations of the jobs schema at start (replicas serialise on an advisory lock).
    migrate_on_start: bool = True


@dataclass
class JobRuntime:
    settings: JobServiceSettings
    verifier: TokenVerifier
    # This service's identity in its calls to vcs.
    vcs_tokens: ServiceTokenSource
    pool: DictPool
    queue: JobQueue
    changes: Notifications
    queued: Notifications
    blobs: BlobClient
    projects: ProjectReader
    vcs_channel: grpc.aio.Channel

    @classmethod
    async def open(cls, settings: JobServiceSettings) -> JobRuntime:
        # Keys are checked before anything is opened: a missing or bad one stops the start at once.
        verifier = TokenVerifier(settings.auth, settings.service_name)
        tokens = ServiceTokenSource(settings.auth, settings.service_name, audience=VCS_SERVICE_NAME)
        dsn = settings.database.url.get_secret_value()
        if settings.migrate_on_start:
            await apply_job_migrations(dsn)
        pool = await open_pool(settings.database, application_name=f"beatflow-{settings.service_name}")
        changes, queued = Notifications(dsn, CHANGED_CHANNEL), Notifications(dsn, QUEUED_CHANNEL)
        await changes.start()
        await queued.start()
        channel = grpc.aio.insecure_channel(
            settings.vcs_address, options=[("grpc.max_receive_message_length", settings.max_message_bytes)]
        )
        limits = UserLimits(
            max_queued_jobs=settings.user_max_queued_jobs,
            max_running_jobs=settings.user_max_running_jobs,
            max_audio_seconds_per_day=settings.user_max_audio_seconds_per_day,
        )
        retries = RetryPolicy(
            settings.job_retry_base_seconds, settings.job_retry_max_seconds, settings.job_retry_jitter
        )
        queue = JobQueue(pool, PageTokens(settings.auth.jwt_secret.get_secret_value()), limits, retries=retries)
        return cls(
            settings,
            verifier,
            tokens,
            pool,
            queue,
            changes,
            queued,
            BlobClient(channel, tokens),
            ProjectReader(channel, tokens),
            channel,
        )

    async def close(self) -> None:
        await self.changes.close()
        await self.queued.close()
        await self.vcs_channel.close()
        await self.pool.close()

    def app(
        self, handlers: dict[str, Handler | BatchHandler], services: Sequence[ServiceRegistration]
    ) -> JobServiceApp:
        """Workers for `handlers` and a gRPC host serving `services` plus the JobService."""
        settings = self.settings
        worker = JobWorker(
            self.queue,
            handlers,
            queued_notifications=self.queued,
            concurrency=settings.worker_concurrency,
            lease_seconds=settings.job_lease_seconds,
            heartbeat_seconds=settings.job_heartbeat_seconds,
        )
        jobs = job_servicer.JobServicer(self.queue, self.changes)
        host = GrpcHost(
            settings,
            [
                *services,
                ServiceRegistration(
                    job_servicer.SERVICE_NAME, lambda s: jobs_pb2_grpc.add_JobServiceServicer_to_server(jobs, s)
                ),
            ],
            scopes=[
                rpc_outcome_scope,
                # Access tokens of ended sessions (logout, refresh reuse) stop within session_check_seconds.
                AuthScope(
                    self.verifier,
                    sessions=SessionGuard(VcsSessionLookup(self.vcs_channel), settings.auth.session_check_seconds),
                ),
            ],
            readiness_checks=[lambda: ping(self.pool)],
            on_shutdown=[self.close],
        )
        return JobServiceApp(host, worker, jobs, settings.job_grace_seconds)


@dataclass
class JobServiceApp:
    host: GrpcHost
    worker: JobWorker
    jobs: job_servicer.JobServicer
    grace_seconds: float
    worker_task: asyncio.Task | None = None
    stopped: bool = False

    async def start(self) -> int:
        port = await self.host.start()
        self.worker_task = asyncio.create_task(self.worker.run(), name="job-worker")
        return port

    async def stop(self) -> None:
        """Goes NOT_SERVING and stops claiming; gives running jobs the grace period to finish while
        their watchers still get every event (an unfinished job is retried elsewhere once its lease
        expires); ends the remaining watches with UNAVAILABLE so clients watch again elsewhere;
        then drains and stops the gRPC server."""
        await self.host.announce_shutdown()
        self.worker.stop()
        if self.worker_task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.worker_task, self.grace_seconds)
        self.jobs.end_watches()
        await self.host.stop()
        self.stopped = True

    async def serve_until_signalled(self) -> None:
        await self.start()
        await until_signalled()
        await self.stop()
