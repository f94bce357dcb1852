"""The shared aio server over a real socket: health, reflection, auth, error details, request ids, shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow_devtools.signing_keys import StackKeys
from beatflow_platform.auth import TokenIssuer, TokenVerifier, current_principal
from beatflow_platform.errors import NotFound
from beatflow_platform.grpc.interceptors import AuthScope, rpc_outcome_scope
from beatflow_platform.grpc.server import GrpcHost, ServiceRegistration
from beatflow_platform.logging import configure_logging, get_logger
from beatflow_platform.settings import AuthSettings, ServiceSettings
from tests.fixtures.keys import auth_settings

JOB_SERVICE = "beatflow.jobs.v1.JobService"
# Issues and verifies users' tokens, as vcs does.
AUTH = auth_settings("vcs")


# Job ids have the contract's shape (a UUID); the demo servicer acts on which one it gets.
J1 = "00000000-0000-4000-8000-0000000000a1"
J9 = "00000000-0000-4000-8000-0000000000a9"
MISSING = "00000000-0000-4000-8000-00000000000e"
BOOM = "00000000-0000-4000-8000-00000000000b"
SLOW = "00000000-0000-4000-8000-000000000005"
LATE = "00000000-0000-4000-8000-00000000000f"


class DemoJobs(jobs_pb2_grpc.JobServiceServicer):
    """A tiny servicer whose behaviour depends on the job id it is asked for."""

    def __init__(self):
        self.slow_started = asyncio.Event()

    async def GetJob(self, request, context):
        if request.job_id == MISSING:
            raise NotFound("job", request.job_id)
        if request.job_id == BOOM:
            raise RuntimeError("secret internal detail")
        if request.job_id == SLOW:
            self.slow_started.set()
            await asyncio.sleep(0.5)
        return jobs_pb2.GetJobResponse(job=jobs_pb2.Job(job_id=request.job_id, owner_id=current_principal().subject_id))

    async def WatchJob(self, request, context):
        for fraction in (0.0, 0.5):
            yield jobs_pb2.WatchJobResponse(job=jobs_pb2.Job(job_id=request.job_id, progress={"fraction": fraction}))
        raise NotFound("job", request.job_id, reason="JOB_VANISHED")


class Readiness:
    def __init__(self):
        self.ready = False

    async def __call__(self) -> None:
        if not self.ready:
            raise ConnectionError("database not reachable yet")


@pytest.fixture
async def host():
    settings = ServiceSettings(grpc_port=0, shutdown_grace_seconds=5, auth=AUTH)
    servicer = DemoJobs()
    readiness = Readiness()
    host = GrpcHost(
        settings,
        [
            ServiceRegistration(
                JOB_SERVICE, lambda server: jobs_pb2_grpc.add_JobServiceServicer_to_server(servicer, server)
            )
        ],
        scopes=[rpc_outcome_scope, AuthScope(TokenVerifier(AUTH, "demo"))],
        readiness_checks=[readiness],
        recheck_interval_seconds=0.1,
    )
    port = await host.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    host.test_channel, host.test_servicer, host.test_readiness = channel, servicer, readiness
    yield host
    await channel.close()
    await host.stop()


def bearer(subject: str = "user-1") -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {TokenIssuer(AUTH).issue(subject, session_id='s1')}"),)


async def health_status(channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return (await stub.Check(health_pb2.HealthCheckRequest(service=service))).status


async def wait_for_status(channel, expected: int, service: str = "") -> None:
    for _ in range(100):
        if await health_status(channel, service) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"health never became {expected}")


async def test_health_follows_readiness(host):
    channel = host.test_channel
    assert await health_status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
    host.test_readiness.ready = True
    await wait_for_status(channel, health_pb2.HealthCheckResponse.SERVING)
    await wait_for_status(channel, health_pb2.HealthCheckResponse.SERVING, JOB_SERVICE)
    host.test_readiness.ready = False
    await wait_for_status(channel, health_pb2.HealthCheckResponse.NOT_SERVING)


async def test_reflection_lists_services(host):
    stub = reflection_pb2_grpc.ServerReflectionStub(host.test_channel)

    async def requests():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for response in stub.ServerReflectionInfo(requests()):
        names = {service.name for service in response.list_services_response.service}
        break
    assert {JOB_SERVICE, "grpc.health.v1.Health"} <= names


async def test_calls_need_a_valid_bearer_token(host):
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    for metadata, reason in [
        ((), "NO_CREDENTIALS"),
        ((("authorization", "Bearer not-a-jwt"),), "TOKEN_INVALID"),
        ((("authorization", "Basic dXNlcjpwYXNz"),), "TOKEN_INVALID"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetJob(jobs_pb2.GetJobRequest(job_id=J1), metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert _error_info(caught.value).reason == reason
    response = await stub.GetJob(jobs_pb2.GetJobRequest(job_id=J1), metadata=bearer("alice-id"))
    assert response.job.owner_id == "alice-id"


async def test_expired_and_foreign_tokens_are_rejected(host):
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    from datetime import UTC, datetime, timedelta

    expired = TokenIssuer(AUTH).issue("u", session_id="s1", now=datetime.now(UTC) - timedelta(hours=1))
    # Same key id, another issuer's key.
    foreign = TokenIssuer(AuthSettings(**StackKeys.generate([]).auth_settings("vcs"))).issue("u", session_id="s1")
    for token, reason in [(expired, "TOKEN_EXPIRED"), (foreign, "TOKEN_INVALID")]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetJob(jobs_pb2.GetJobRequest(job_id=J1), metadata=(("authorization", f"Bearer {token}"),))
        assert _error_info(caught.value).reason == reason


def _details(error: grpc.aio.AioRpcError):
    status = rpc_status.from_call(error)
    assert status is not None, "the error must carry a google.rpc.Status"
    return status


def _error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    for detail in _details(error).details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo detail")


async def test_domain_errors_carry_rich_details(host):
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetJob(jobs_pb2.GetJobRequest(job_id=MISSING), metadata=bearer())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    status = _details(caught.value)
    resource = error_details_pb2.ResourceInfo()
    assert any(d.Unpack(resource) for d in status.details if d.Is(resource.DESCRIPTOR))
    assert (resource.resource_type, resource.resource_name) == ("job", MISSING)
    assert _error_info(caught.value).domain == "beatflow.dev"


async def test_unexpected_errors_are_internal_without_leaking(host):
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetJob(jobs_pb2.GetJobRequest(job_id=BOOM), metadata=bearer())
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in caught.value.details()


async def test_streaming_errors_after_some_messages(host):
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    call = stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=J9), metadata=bearer())
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for message in call:
            received.append(message.job.progress.fraction)
    assert received == [0.0, 0.5]
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert _error_info(caught.value).reason == "JOB_VANISHED"


async def test_request_ids_are_echoed_or_generated(host):
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    call = stub.GetJob(jobs_pb2.GetJobRequest(job_id=J1), metadata=(*bearer(), ("x-request-id", "req-42")))
    await call
    assert dict(await call.initial_metadata())["x-request-id"] == "req-42"
    call = stub.GetJob(
        jobs_pb2.GetJobRequest(job_id=J1), metadata=(*bearer(), ("x-request-id", "has spaces; not allowed"))
    )
    await call
    generated = dict(await call.initial_metadata())["x-request-id"]
    assert len(generated) == 32 and generated != "has spaces; not allowed"


async def test_one_json_log_line_per_call(host, capsys, restore_logging):
    configure_logging("INFO", json=True, service="demo")
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.GetJob(jobs_pb2.GetJobRequest(job_id=MISSING), metadata=(*bearer(), ("x-request-id", "req-7")))
    # The server writes the line as its handler ends, which may be just after the caller has the status.
    lines: list[dict] = []
    for _ in range(100):
        lines += [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
        calls = [line for line in lines if line.get("event") == "rpc" and line.get("request_id") == "req-7"]
        if calls:
            break
        await asyncio.sleep(0.02)
    assert len(calls) == 1
    assert calls[0]["code"] == "NOT_FOUND"
    assert calls[0]["rpc"] == "/beatflow.jobs.v1.JobService/GetJob"
    assert calls[0]["service"] == "demo"
    assert "authorization" not in json.dumps(lines).lower()


def test_credentials_are_masked_in_every_log_line(capsys, restore_logging):
    configure_logging("INFO", json=True, service="demo")
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    # A library logger (as uvicorn's) and our own, each handed a credential.
    logging.getLogger("uvicorn.error").info('"WebSocket /ws/jobs/1?token=%s&x=1" [accepted]', jwt)
    get_logger("demo").info("echo", header="Bearer opaque-refresh-value", url="/login?password=hunter22")
    output = capsys.readouterr().err
    for secret in (jwt, "opaque-refresh-value", "hunter22", "c2lnbmF0dXJl"):
        assert secret not in output
    assert output.count("[REDACTED") == 3 and "&x=1" in output, output


async def test_messages_over_the_size_limit_are_refused(host):
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListJobs(jobs_pb2.ListJobsRequest(page_token="x" * (9 * 1024 * 1024)), metadata=bearer())
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_stop_drains_in_flight_calls(host):
    stub = jobs_pb2_grpc.JobServiceStub(host.test_channel)
    slow = asyncio.ensure_future(stub.GetJob(jobs_pb2.GetJobRequest(job_id=SLOW), metadata=bearer()))
    await host.test_servicer.slow_started.wait()
    await host.stop()
    assert (await slow).job.job_id == SLOW
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetJob(jobs_pb2.GetJobRequest(job_id=LATE), metadata=bearer(), timeout=2)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_sigterm_stops_the_server_gracefully():
    settings = ServiceSettings(grpc_port=0, shutdown_grace_seconds=1, auth=AUTH)
    stopped = []

    async def on_shutdown():
        stopped.append(True)

    host = GrpcHost(settings, [], scopes=[rpc_outcome_scope], on_shutdown=[on_shutdown])
    serving = asyncio.ensure_future(host.serve_until_signalled())
    while host.port is None:
        await asyncio.sleep(0.01)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 10)
    assert stopped == [True]
