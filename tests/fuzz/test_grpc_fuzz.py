"""Every method of every service gets random and boundary requests: none may end INTERNAL or
UNKNOWN (an unhandled error) or hang past its deadline.

Calls go through plain synchronous gRPC channels from a worker thread, so hypothesis drives
its own loop while the services keep serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beatflow.auth.v1 import auth_pb2
from beatflow.generator.v1 import generator_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.separator.v1 import separator_pb2
from beatflow.vcs.v1 import blobs_pb2, repositories_pb2, version_control_pb2
from beatflow_generator.app import build_app as build_generator
from beatflow_generator.settings import GeneratorSettings
from beatflow_separator.app import build_app as build_separator
from beatflow_separator.settings import SeparatorSettings
from tests.audio import tone
from tests.fixtures.vcs import Caller
from tests.fuzz.messages import message_class, messages

pytestmark = pytest.mark.slow
EXAMPLES_PER_METHOD = 60
CALL_TIMEOUT_SECONDS = 15
UNHANDLED = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass
class Target:
    address: str
    token_metadata: tuple[tuple[str, str], ...]
    known: tuple[str, ...]


def _credentials(target: Target) -> st.SearchStrategy:
    """As the signed-in user mostly, sometimes anonymous or with a forged token."""
    forged = (("authorization", "Bearer x.y.z"),)
    return st.sampled_from([target.token_metadata] * 4 + [(), forged])


def _fuzz_method(channel: grpc.Channel, service: ServiceDescriptor, method: MethodDescriptor, target: Target) -> None:
    path = f"/{service.full_name}/{method.name}"
    serialize = message_class(method.input_type).SerializeToString
    deserialize = message_class(method.output_type).FromString
    requests = messages(method.input_type, target.known)

    if method.client_streaming:
        call = channel.stream_unary(path, request_serializer=serialize, response_deserializer=deserialize)
        payloads = st.lists(requests, min_size=0, max_size=3)
    elif method.server_streaming:
        call = channel.unary_stream(path, request_serializer=serialize, response_deserializer=deserialize)
        payloads = requests
    else:
        call = channel.unary_unary(path, request_serializer=serialize, response_deserializer=deserialize)
        payloads = requests

    @settings(
        max_examples=EXAMPLES_PER_METHOD,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(payload=payloads, metadata=_credentials(target))
    def check(payload, metadata):
        try:
            if method.client_streaming:
                call(iter(payload), metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
            elif method.server_streaming:
                stream = call(payload, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
                next(stream, None)  # the first message is enough; a watch may run forever
                stream.cancel()
            else:
                call(payload, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.CANCELLED and method.server_streaming:
                return
            assert error.code() not in UNHANDLED, f"{path} -> {error.code().name}: {error.details()}\n{payload!r}"

    check()


def fuzz_services(target: Target, services: list[ServiceDescriptor]) -> list[str]:
    """Fuzzes every method; returns one line per method that failed."""
    failures = []
    with grpc.insecure_channel(target.address) as channel:
        for service in services:
            for method in service.methods:
                try:
                    _fuzz_method(channel, service, method, target)
                except AssertionError as failure:
                    failures.append(str(failure).splitlines()[0])
    return failures


async def _seed(caller: Caller) -> tuple[str, ...]:
    """A repository with a commit and a blob, so fuzzed ids can name things that exist."""
    repo = await caller.create_repo("fuzzed")
    blob = await caller.upload(tone(0.3))
    commit = await caller.commit(repo.repo_id, {"loop": blob.blob_id})
    return (
        repo.repo_id,
        blob.blob_id,
        commit.commit_id,
        caller.user.username,
        caller.user.user_id,
        caller.tokens.refresh_token,
        "loop",
    )


async def test_vcs_methods_never_fail_unhandled(vcs):
    alice = await vcs.sign_up()
    target = Target(f"127.0.0.1:{vcs.port}", alice.metadata, await _seed(alice))
    services = [
        auth_pb2.DESCRIPTOR.services_by_name["AuthService"],
        repositories_pb2.DESCRIPTOR.services_by_name["RepositoryService"],
        version_control_pb2.DESCRIPTOR.services_by_name["VersionControlService"],
        blobs_pb2.DESCRIPTOR.services_by_name["BlobService"],
    ]
    assert await asyncio.to_thread(fuzz_services, target, services) == []


@pytest.mark.parametrize(
    ("build_app", "settings_class", "module", "service_name"),
    [
        (build_generator, GeneratorSettings, generator_pb2, "GeneratorService"),
        (build_separator, SeparatorSettings, separator_pb2, "SeparatorService"),
    ],
    ids=["generator", "separator"],
)
async def test_job_service_methods_never_fail_unhandled(
    job_service_factory, build_app, settings_class, module, service_name
):
    # No workers: the fuzz is about handling requests, not about rendering what they ask for.
    running = await job_service_factory(build_app, settings_class, worker_concurrency=0)
    alice = await running.vcs.sign_up()
    known = await _seed(alice)
    services = [module.DESCRIPTOR.services_by_name[service_name], jobs_pb2.DESCRIPTOR.services_by_name["JobService"]]
    target = Target(f"127.0.0.1:{running.port}", alice.metadata, known)
    assert await asyncio.to_thread(fuzz_services, target, services) == []
