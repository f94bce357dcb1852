"""A generator service (API and worker) and a vcs service, both real, on 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import pytest

from beatflow.generator.v1 import generator_pb2_grpc
from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow_generator.app import build_app
from beatflow_generator.settings import GeneratorSettings
from beatflow_platform.settings import DatabaseSettings
from tests.fixtures.vcs import Caller, VcsUnderTest, _Authorised
from tests.generator import tiny_musicgen


@dataclass
class Studio:
    vcs: VcsUnderTest
    channel: grpc.aio.Channel

    def generator(self, caller: Caller) -> generator_pb2_grpc.GeneratorServiceStub:
        return _Authorised(generator_pb2_grpc.GeneratorServiceStub(self.channel), caller.metadata)

    def jobs(self, caller: Caller) -> jobs_pb2_grpc.JobServiceStub:
        return _Authorised(jobs_pb2_grpc.JobServiceStub(self.channel), caller.metadata)

    async def finished(self, caller: Caller, job_id: str, timeout: float = 60.0) -> jobs_pb2.Job:
        """Follows the job with WatchJob until it ends; returns the last snapshot."""
        last = None
        async for event in self.jobs(caller).WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id), timeout=timeout):
            last = event.job
        return last


@pytest.fixture(scope="session")
def musicgen_weights(tmp_path_factory):
    """A tiny random MusicGen saved where configured weights would be."""
    return tiny_musicgen.build(tmp_path_factory.mktemp("musicgen"))


@pytest.fixture(scope="session")
def melody_weights(tmp_path_factory):
    """A tiny random MusicGen-Melody saved where configured weights would be."""
    return tiny_musicgen.build_melody(tmp_path_factory.mktemp("musicgen-melody"))


@pytest.fixture
async def studio(studio_factory):
    return await studio_factory()


@pytest.fixture
async def studio_factory(vcs_factory, database_dsn):
    """Starts a vcs and a generator with setting overrides; both stop after the test."""
    started = []

    async def start(**overrides) -> Studio:
        vcs = await vcs_factory()
        settings = GeneratorSettings(
            grpc_port=0,
            vcs_address=f"127.0.0.1:{vcs.port}",
            database=DatabaseSettings(url=database_dsn),
            auth=vcs.settings.auth,
            job_heartbeat_seconds=1.0,
            shutdown_grace_seconds=1,
            job_grace_seconds=5,
            **overrides,
        )
        app = await build_app(settings)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{await app.start()}")
        started.append((app, channel))
        return Studio(vcs, channel)

    yield start
    for app, channel in started:
        await channel.close()
        await app.stop()
