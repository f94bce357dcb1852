"""The typed clients against real services: auth metadata, deadlines, retries on UNAVAILABLE, jobs."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from beatflow_sdk import AsyncBeatFlow, BeatFlow, Endpoints

from beatflow.auth.v1 import auth_pb2
from beatflow.generator.v1 import generator_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.vcs.v1 import blobs_pb2, repositories_pb2
from beatflow.vcs.v1 import version_control_pb2 as vc_pb2
from beatflow_devtools.network import free_port
from beatflow_platform.grpc.interceptors import rpc_outcome_scope
from beatflow_platform.grpc.server import GrpcHost
from beatflow_platform.settings import ServiceSettings
from tests.audio import tone


async def register(endpoints: Endpoints, name: str) -> str:
    async with AsyncBeatFlow(endpoints) as anonymous:
        response = await anonymous.auth.Register(
            auth_pb2.RegisterRequest(username=name, email=f"{name}@example.com", password="a long password")
        )
    return response.tokens.access_token


async def test_async_client_carries_the_token_and_follows_jobs(job_service_factory):
    from beatflow_generator.app import build_app
    from beatflow_generator.settings import GeneratorSettings

    studio = await job_service_factory(build_app, GeneratorSettings)
    endpoints = Endpoints(vcs=f"127.0.0.1:{studio.vcs.port}", generator=f"127.0.0.1:{studio.port}")
    token = await register(endpoints, "sdkuser")
    async with AsyncBeatFlow(endpoints, token=token) as client:
        created = await client.repositories.CreateRepository(repositories_pb2.CreateRepositoryRequest(name="SDK"))
        fetched = await client.repositories.GetRepository(
            repositories_pb2.GetRepositoryRequest(repo_id=created.repository.repo_id)
        )
        assert fetched.repository.name == "SDK"
        job = (
            await client.generation.Generate(
                generator_pb2.GenerateRequest(params=generator_pb2.GenerationParams(prompt="house", duration_seconds=5))
            )
        ).job
        states = []
        done = await client.wait_for_job(job.job_id, on_event=lambda j: states.append(j.state))
        assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED and states[-1] == done.state

    def follow_blocking() -> jobs_pb2.Job:
        with BeatFlow(endpoints, token=token) as blocking:
            return blocking.wait_for_job(job.job_id)

    assert (await asyncio.to_thread(follow_blocking)) == done, "the blocking client follows the same job"
    async with AsyncBeatFlow(endpoints) as anonymous:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await anonymous.repositories.ListRepositories(repositories_pb2.ListRepositoriesRequest())
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_sync_client(vcs):
    endpoints = Endpoints(vcs=f"127.0.0.1:{vcs.port}")
    token = await register(endpoints, "syncuser")

    def script() -> str:
        with BeatFlow(endpoints, token=lambda: token) as client:
            created = client.repositories.CreateRepository(repositories_pb2.CreateRepositoryRequest(name="Sync"))
            listed = client.repositories.ListRepositories(repositories_pb2.ListRepositoriesRequest())
            return listed.repositories[0].repo_id if created else ""

    assert await asyncio.to_thread(script)


async def test_edit_commits_and_anonymous_reads(vcs):
    endpoints = Endpoints(vcs=f"127.0.0.1:{vcs.port}")
    token = await register(endpoints, "sdkeditor")

    async def upload(client: AsyncBeatFlow, data: bytes) -> str:
        async def parts():
            yield blobs_pb2.UploadBlobRequest(metadata=blobs_pb2.UploadBlobMetadata(filename="take.wav"))
            yield blobs_pb2.UploadBlobRequest(chunk=data)

        return (await client.blobs.UploadBlob(parts())).blob.blob_id

    async with AsyncBeatFlow(endpoints, token=token) as client:
        request = repositories_pb2.CreateRepositoryRequest(name="Open", is_public=True)
        repo_id = (await client.repositories.CreateRepository(request)).repository.repo_id
        drums, bass = await upload(client, tone(0.2, 200.0)), await upload(client, tone(0.2, 300.0))
        first = await client.versions.CreateCommit(
            vc_pb2.CreateCommitRequest(
                repo_id=repo_id, message="drums", bpm=100, stems=[vc_pb2.StemInput(name="drums", blob_id=drums)]
            )
        )
        # An edit: only the new stem is named; drums and the tempo come from the head.
        second = await client.versions.CreateCommit(
            vc_pb2.CreateCommitRequest(
                repo_id=repo_id, message="bass", stems=[vc_pb2.StemInput(name="bass", blob_id=bass)]
            )
        )
    assert {s.name: s.blob_id for s in second.commit.stems} == {"drums": drums, "bass": bass}
    assert second.commit.bpm == 100 and list(second.commit.parent_ids) == [first.commit.commit_id]
    async with AsyncBeatFlow(endpoints) as anonymous:
        log = await anonymous.versions.GetLog(vc_pb2.GetLogRequest(repo_id=repo_id))
        assert [c.commit_id for c in log.commits] == [second.commit.commit_id, first.commit.commit_id]


async def test_unavailable_calls_are_retried_until_the_service_is_back():
    port = free_port()
    host = GrpcHost(ServiceSettings(grpc_port=port, shutdown_grace_seconds=0), [], scopes=[rpc_outcome_scope])
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with AsyncBeatFlow(Endpoints(vcs=f"127.0.0.1:{port}"), retry_attempts=5, timeout_seconds=10) as client:
        health = health_pb2_grpc.HealthStub(client._channels["vcs"])
        call = asyncio.ensure_future(health.Check(health_pb2.HealthCheckRequest()))
        await asyncio.sleep(0.3)  # the first attempts find nothing listening
        assert not call.done()
        await host.start()
        try:
            response = await asyncio.wait_for(call, 10)
            assert response.status in (
                health_pb2.HealthCheckResponse.SERVING,
                health_pb2.HealthCheckResponse.NOT_SERVING,
            )
        finally:
            await host.stop()


async def test_default_deadline_applies(vcs):
    async with AsyncBeatFlow(
        Endpoints(vcs=f"127.0.0.1:{free_port()}"), retry_attempts=2, timeout_seconds=0.5
    ) as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.repositories.ListRepositories(repositories_pb2.ListRepositoriesRequest())
        assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def test_wait_for_job_outlives_a_rolling_restart(job_service_factory):
    """The generator that answers the watch goes away; its replacement on the same address
    runs the job; the client's one `wait_for_job` call sees it through."""
    from beatflow_generator.app import build_app
    from beatflow_generator.settings import GeneratorSettings

    port = free_port()
    old = await job_service_factory(build_app, GeneratorSettings, grpc_port=port, worker_concurrency=0)
    endpoints = Endpoints(vcs=f"127.0.0.1:{old.vcs.port}", generator=f"127.0.0.1:{port}")
    token = await register(endpoints, "rolling")
    async with AsyncBeatFlow(endpoints, token=token) as client:
        params = generator_pb2.GenerationParams(prompt="techno", duration_seconds=5)
        job = (await client.generation.Generate(generator_pb2.GenerateRequest(params=params))).job
        states = []
        waiting = asyncio.ensure_future(client.wait_for_job(job.job_id, on_event=lambda j: states.append(j.state)))
        while not states:
            await asyncio.sleep(0.05)
        await old.app.stop()  # ends the watch with UNAVAILABLE; the job is still queued
        assert not waiting.done()
        await job_service_factory(build_app, GeneratorSettings, grpc_port=port, worker_concurrency=1)
        done = await asyncio.wait_for(waiting, 60)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED
    assert states[0] == jobs_pb2.JOB_STATE_QUEUED and states[-1] == jobs_pb2.JOB_STATE_SUCCEEDED
