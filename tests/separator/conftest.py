"""A separator service (API and worker) and a vcs service, both real, on 127.0.0.1."""

from __future__ import annotations

import pytest
import torch

from beatflow.separator.v1 import separator_pb2_grpc
from beatflow_separator.app import build_app
from beatflow_separator.settings import SeparatorSettings
from tests.fixtures.job_services import JobServiceUnderTest
from tests.fixtures.vcs import Caller
from tests.separator import tiny_demucs


class Desk(JobServiceUnderTest):
    def separator(self, caller: Caller) -> separator_pb2_grpc.SeparatorServiceStub:
        return self.stub(separator_pb2_grpc.SeparatorServiceStub, caller)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Two threads on two shared cores run the tiny Demucs models 10-40x slower than one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def demucs_weights(tmp_path_factory):
    """A tiny random HTDemucs saved as a local demucs repo."""
    return tiny_demucs.build(tmp_path_factory.mktemp("demucs"))


@pytest.fixture
async def desk_factory(job_service_factory):
    async def start(**overrides) -> Desk:
        running = await job_service_factory(build_app, SeparatorSettings, **overrides)
        return Desk(running.vcs, running.channel, running.port, running.app)

    return start


@pytest.fixture
async def desk(desk_factory) -> Desk:
    return await desk_factory()
