"""Clients for internal callers of the gRPC services.

Every call carries the caller's token (a user's access token, or a service token that may act
on behalf of a user) and the request id, and gets a deadline unless it sets its own. A client
without a token reads public repositories (and nothing private). Commits are edits of the branch
head: `CreateCommitRequest(repo_id=r, message="add guitar", stems=[StemInput(name="guitar", ...)])`
keeps the other stems, bpm and key (see docs/vcs.md, "Commits as edits"). Calls that
fail with UNAVAILABLE are retried with exponential back-off by gRPC's own retry policy (a
service config on the channel), which only retries while nothing has been committed to the
call, so a retried write never runs twice. `wait_for_job` also opens a watch again when a
stopping server ends it with UNAVAILABLE: a watch starts with a snapshot, so nothing is missed.

    async with AsyncBeatFlow(Endpoints(vcs="vcs:50061", generator="generator:50062"), token=t) as bf:
        repo = (await bf.repositories.CreateRepository(CreateRepositoryRequest(name="Demo"))).repository
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import grpc

from beatflow.auth.v1 import auth_pb2_grpc
from beatflow.generator.v1 import generator_pb2, generator_pb2_grpc
from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow.separator.v1 import separator_pb2_grpc
from beatflow.vcs.v1 import blobs_pb2_grpc, repositories_pb2_grpc, version_control_pb2, version_control_pb2_grpc
from beatflow_sdk.job_failover import FailoverJobs
from beatflow_sdk.watching import follow, follow_blocking

# The services that run jobs; each serves JobService over the one shared job queue.
JOB_SERVICES = ("generator", "separator")
TERMINAL_STATES = {jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_FAILED, jobs_pb2.JOB_STATE_CANCELLED}


class JobFailed(Exception):
    """A job that ended without success; `job` is its last state (error included)."""

    def __init__(self, job: jobs_pb2.Job):
        super().__init__(f"job {job.job_id} ended {jobs_pb2.JobState.Name(job.state)}: {job.error.message}")
        self.job = job


def generation_result(job: jobs_pb2.Job) -> generator_pb2.GenerationResult:
    """The result of a finished generation job (stems, MIDI, seed, the commit it landed as)."""
    if job.state != jobs_pb2.JOB_STATE_SUCCEEDED:
        raise JobFailed(job)
    result = generator_pb2.GenerationResult()
    job.result.detail.Unpack(result)
    return result


def retry_service_config(attempts: int = 4) -> str:
    """gRPC service config: retry UNAVAILABLE on every method with exponential back-off."""
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{}],
                    "retryPolicy": {
                        "maxAttempts": attempts,
                        "initialBackoff": "0.2s",
                        "maxBackoff": "3s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


@dataclass(frozen=True)
class Endpoints:
    """host:port of each service; only the ones you call are needed."""

    vcs: str = ""
    generator: str = ""
    separator: str = ""


def _channel_options(max_message_bytes: int, attempts: int) -> list[tuple[str, object]]:
    return [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", retry_service_config(attempts)),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # Reconnect quickly after a restart so that retries find the service again.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]


class _CallDefaults:
    """Adds auth and request-id metadata and a default deadline to every call."""

    def __init__(self, metadata: Callable[[], tuple[tuple[str, str], ...]], timeout: float):
        self._metadata = metadata
        self._timeout = timeout

    def details(self, details, *, default_deadline: bool = True):
        """Streamed responses (WatchJob, DownloadBlob) run as long as they need unless given a timeout."""
        metadata = tuple(details.metadata or ()) + self._metadata()
        if not any(key == "x-request-id" for key, _ in metadata):
            metadata += (("x-request-id", uuid.uuid4().hex),)
        timeout = details.timeout or (self._timeout if default_deadline else None)
        return details._replace(metadata=metadata, timeout=timeout)


# grpc.aio registers an interceptor for the first call shape it implements only, so each shape
# gets its own small class.
class _AsyncUnaryUnary(_CallDefaults, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await continuation(self.details(client_call_details), request)


class _AsyncUnaryStream(_CallDefaults, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await continuation(self.details(client_call_details, default_deadline=False), request)


class _AsyncStreamUnary(_CallDefaults, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return await continuation(self.details(client_call_details), request_iterator)


class _SyncUnaryUnary(_CallDefaults, grpc.UnaryUnaryClientInterceptor):
    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self.details(client_call_details), request)


class _SyncUnaryStream(_CallDefaults, grpc.UnaryStreamClientInterceptor):
    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self.details(client_call_details, default_deadline=False), request)


class _SyncStreamUnary(_CallDefaults, grpc.StreamUnaryClientInterceptor):
    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self.details(client_call_details), request_iterator)


class _Stubs:
    """Typed stubs over the channels; a stub of a service without an endpoint raises ValueError."""

    _channels: dict

    def _channel(self, *names: str):
        for name in names:
            if name in self._channels:
                return self._channels[name]
        raise ValueError(f"no endpoint configured for {' or '.join(names)}")

    @property
    def auth(self) -> auth_pb2_grpc.AuthServiceStub:
        return auth_pb2_grpc.AuthServiceStub(self._channel("vcs"))

    @property
    def repositories(self) -> repositories_pb2_grpc.RepositoryServiceStub:
        return repositories_pb2_grpc.RepositoryServiceStub(self._channel("vcs"))

    @property
    def versions(self) -> version_control_pb2_grpc.VersionControlServiceStub:
        return version_control_pb2_grpc.VersionControlServiceStub(self._channel("vcs"))

    @property
    def blobs(self) -> blobs_pb2_grpc.BlobServiceStub:
        return blobs_pb2_grpc.BlobServiceStub(self._channel("vcs"))

    @property
    def generation(self) -> generator_pb2_grpc.GeneratorServiceStub:
        return generator_pb2_grpc.GeneratorServiceStub(self._channel("generator"))

    @property
    def separation(self) -> separator_pb2_grpc.SeparatorServiceStub:
        return separator_pb2_grpc.SeparatorServiceStub(self._channel("separator"))


def _auth_metadata(token: str | Callable[[], str], on_behalf_of: str):
    def metadata() -> tuple[tuple[str, str], ...]:
        value = token() if callable(token) else token
        result = (("authorization", f"Bearer {value}"),) if value else ()
        if on_behalf_of:
            result += (("x-beatflow-on-behalf-of", on_behalf_of),)
        return result

    return metadata


class _Client(_Stubs):
    """Channels to the configured endpoints, each call carrying the caller's metadata and deadline."""

    _interceptor_kinds: tuple[type, ...]

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        token: str | Callable[[], str] = "",
        on_behalf_of: str = "",
        timeout_seconds: float = 30.0,
        retry_attempts: int = 4,
        max_message_bytes: int = 8 * 1024 * 1024,
    ):
        metadata = _auth_metadata(token, on_behalf_of)
        interceptors = [kind(metadata, timeout_seconds) for kind in self._interceptor_kinds]
        options = _channel_options(max_message_bytes, retry_attempts)
        self._channels = {
            name: self._open(address, options, interceptors) for name, address in vars(endpoints).items() if address
        }

    @staticmethod
    def _open(address: str, options, interceptors):
        raise NotImplementedError


class AsyncBeatFlow(_Client):
    _interceptor_kinds = (_AsyncUnaryUnary, _AsyncUnaryStream, _AsyncStreamUnary)

    @staticmethod
    def _open(address: str, options, interceptors):
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)

    @property
    def jobs(self) -> FailoverJobs:
        """Job reads, watches and cancellations answered by whichever configured job-owning service is
        up, so a job stays readable while the engine that runs it is down."""
        return FailoverJobs([self._channels[name] for name in JOB_SERVICES if name in self._channels])

    async def wait_for_job(self, job_id: str, on_event: Callable[[jobs_pb2.Job], None] | None = None) -> jobs_pb2.Job:
        """Follows a job until it ends (no deadline: jobs may run long) and returns its last state."""
        last = None
        async for last in follow(lambda: self.jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id))):
            if on_event:
                on_event(last)
        assert last is not None  # WatchJob answers with the job's snapshot first, or fails
        return last

    async def listen(
        self, request: version_control_pb2.RenderCommitRequest, out: BinaryIO
    ) -> version_control_pb2.Render:
        """Writes a commit's mix (stems muted, soloed and gained as `request` says) to `out`; returns what it is."""
        render = (await self.versions.RenderCommit(request)).render
        download = version_control_pb2.DownloadRenderRequest(render=request, render_id=render.render_id)
        async for message in self.versions.DownloadRender(download):
            out.write(message.chunk)
        return render

    async def generate(
        self, params: generator_pb2.GenerationParams, *, request_id: str = ""
    ) -> generator_pb2.GenerationResult:
        """Generates and waits: `params.repo_id` lands the result as a commit, `params.operation` continues,
        repaints, redoes a stem of or loops the commit `params.commit_id`. Raises JobFailed."""
        request = generator_pb2.GenerateRequest(params=params, request_id=request_id)
        job = (await self.generation.Generate(request)).job
        return generation_result(await self.wait_for_job(job.job_id))

    async def rerender(
        self, repo_id: str, commit_id: str, *, branch: str = "", request_id: str = ""
    ) -> generator_pb2.GenerationResult:
        """Renders a generated commit again from its provenance (landing on `branch` when given) and waits."""
        request = generator_pb2.RerenderRequest(
            repo_id=repo_id, commit_id=commit_id, branch=branch, request_id=request_id
        )
        job = (await self.generation.Rerender(request)).job
        return generation_result(await self.wait_for_job(job.job_id))

    async def comment(self, request: version_control_pb2.CreateCommentRequest) -> version_control_pb2.Comment:
        """Comments on a moment (a stem, or the mix, of a commit between two times), or replies to a comment."""
        return (await self.versions.CreateComment(request)).comment

    async def comments(self, repo_id: str, commit_id: str, page_size: int = 0) -> list[version_control_pb2.Comment]:
        """All comments shown on a commit, page after page (carried forward from earlier commits, or outdated)."""
        comments, token = [], ""
        while True:
            request = version_control_pb2.ListCommentsRequest(
                repo_id=repo_id, commit_id=commit_id, page_size=page_size, page_token=token
            )
            page = await self.versions.ListComments(request)
            comments += page.comments
            if not (token := page.next_page_token):
                return comments

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    async def __aenter__(self) -> AsyncBeatFlow:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


class BeatFlow(_Client):
    """The same with blocking calls, for scripts and notebooks."""

    _interceptor_kinds = (_SyncUnaryUnary, _SyncUnaryStream, _SyncStreamUnary)

    @staticmethod
    def _open(address: str, options, interceptors):
        return grpc.intercept_channel(grpc.insecure_channel(address, options=options), *interceptors)

    @property
    def jobs(self) -> jobs_pb2_grpc.JobServiceStub:
        """Generator and separator share the job queue: either answers for any job."""
        return jobs_pb2_grpc.JobServiceStub(self._channel(*JOB_SERVICES))

    def wait_for_job(self, job_id: str, on_event: Callable[[jobs_pb2.Job], None] | None = None) -> jobs_pb2.Job:
        last = None
        for last in follow_blocking(lambda: self.jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id))):
            if on_event:
                on_event(last)
        assert last is not None  # WatchJob answers with the job's snapshot first, or fails
        return last

    def listen(self, request: version_control_pb2.RenderCommitRequest, out: BinaryIO) -> version_control_pb2.Render:
        """Writes a commit's mix (stems muted, soloed and gained as `request` says) to `out`; returns what it is."""
        render = self.versions.RenderCommit(request).render
        download = version_control_pb2.DownloadRenderRequest(render=request, render_id=render.render_id)
        for message in self.versions.DownloadRender(download):
            out.write(message.chunk)
        return render

    def generate(
        self, params: generator_pb2.GenerationParams, *, request_id: str = ""
    ) -> generator_pb2.GenerationResult:
        request = generator_pb2.GenerateRequest(params=params, request_id=request_id)
        job = self.generation.Generate(request).job
        return generation_result(self.wait_for_job(job.job_id))

    def rerender(
        self, repo_id: str, commit_id: str, *, branch: str = "", request_id: str = ""
    ) -> generator_pb2.GenerationResult:
        request = generator_pb2.RerenderRequest(
            repo_id=repo_id, commit_id=commit_id, branch=branch, request_id=request_id
        )
        job = self.generation.Rerender(request).job
        return generation_result(self.wait_for_job(job.job_id))

    def comment(self, request: version_control_pb2.CreateCommentRequest) -> version_control_pb2.Comment:
        return self.versions.CreateComment(request).comment

    def comments(self, repo_id: str, commit_id: str, page_size: int = 0) -> list[version_control_pb2.Comment]:
        comments, token = [], ""
        while True:
            request = version_control_pb2.ListCommentsRequest(
                repo_id=repo_id, commit_id=commit_id, page_size=page_size, page_token=token
            )
            page = self.versions.ListComments(request)
            comments += page.comments
            if not (token := page.next_page_token):
                return comments

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()

    def __enter__(self) -> BeatFlow:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
