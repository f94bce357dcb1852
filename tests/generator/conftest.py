"""A generator service (API and worker) and a vcs service, both real, on 127.0.0.1."""

from __future__ import annotations

import pytest

from beatflow.generator.v1 import generator_pb2_grpc
from beatflow_generator.app import build_app
from beatflow_generator.settings import GeneratorSettings
from tests.fixtures.job_services import JobServiceUnderTest
from tests.fixtures.vcs import Caller
from tests.generator import tiny_musicgen


class Studio(JobServiceUnderTest):
    def generator(self, caller: Caller) -> generator_pb2_grpc.GeneratorServiceStub:
        return self.stub(generator_pb2_grpc.GeneratorServiceStub, caller)


@pytest.fixture(scope="session")
def musicgen_weights(tmp_path_factory):
    """A tiny random MusicGen saved where configured weights would be."""
    return tiny_musicgen.build(tmp_path_factory.mktemp("musicgen"))


@pytest.fixture(scope="session")
def melody_weights(tmp_path_factory):
    """A tiny random MusicGen-Melody saved where configured weights would be."""
    return tiny_musicgen.build_melody(tmp_path_factory.mktemp("musicgen-melody"))


@pytest.fixture
async def studio_factory(job_service_factory):
    async def start(**overrides) -> Studio:
        running = await job_service_factory(build_app, GeneratorSettings, **overrides)
        return Studio(running.vcs, running.channel, running.port, running.app)

    return start


@pytest.fixture
async def studio(studio_factory) -> Studio:
    return await studio_factory()
