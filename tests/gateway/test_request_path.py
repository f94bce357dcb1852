"""What every transcoded request carries and leaves behind, against a recording RepositoryService: the caller's
request id, token and a deadline on the gRPC call (the gateway's channels have no SDK interceptors to add them),
the same id in the response, and one access log line with id, status and duration (none below INFO)."""

from __future__ import annotations

import json
import uuid

import grpc
import pytest

from beatflow.vcs.v1 import repositories_pb2, repositories_pb2_grpc
from beatflow_platform.logging import configure_logging
from tests.gateway.conftest import in_process_gateway

REPO_ID = str(uuid.uuid4())
MISSING_ID = str(uuid.uuid4())
CALL_TIMEOUT = 7.0


class RecordingRepositories(repositories_pb2_grpc.RepositoryServiceServicer):
    def __init__(self):
        self.calls: list[tuple[dict[str, str], float | None]] = []

    async def GetRepository(self, request, context):
        self.calls.append((dict(context.invocation_metadata()), context.time_remaining()))
        if request.repo_id != REPO_ID:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"repository {request.repo_id} not found")
        return repositories_pb2.GetRepositoryResponse(
            repository=repositories_pb2.Repository(repo_id=REPO_ID, name="Demo", owner_username="ana")
        )


@pytest.fixture
async def recording_vcs():
    servicer = RecordingRepositories()
    server = grpc.aio.server()
    repositories_pb2_grpc.add_RepositoryServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port, servicer
    await server.stop(None)


def _gateway(port: int):
    down = "127.0.0.1:1"
    return in_process_gateway(
        vcs_address=f"127.0.0.1:{port}",
        generator_address=down,
        separator_address=down,
        call_timeout_seconds=CALL_TIMEOUT,
    )


def _the_call_timeout(remaining: float | None) -> bool:
    """The deadline the service saw is the gateway's call timeout (gRPC rounds it up on the wire); None is none."""
    return remaining is not None and CALL_TIMEOUT - 3 < remaining < CALL_TIMEOUT + 1


def _access_lines(err: str) -> list[dict]:
    return [line for line in map(json.loads, filter(None, err.splitlines())) if line.get("event") == "http"]


async def test_a_transcoded_call_carries_the_callers_id_token_and_a_deadline(recording_vcs):
    port, servicer = recording_vcs
    async with _gateway(port) as client:
        response = await client.get(
            f"/api/repositories/{REPO_ID}", headers={"Authorization": "Bearer t0ken", "X-Request-ID": "trace-7"}
        )
        anonymous = await client.get(f"/api/repositories/{REPO_ID}")
    assert response.status_code == 200 and response.json()["owner_username"] == "ana"
    assert response.headers["X-Request-ID"] == "trace-7"
    (metadata, remaining), (anonymous_metadata, anonymous_remaining) = servicer.calls
    assert metadata["x-request-id"] == "trace-7" and metadata["authorization"] == "Bearer t0ken"
    assert _the_call_timeout(remaining)
    assert "authorization" not in anonymous_metadata
    assert anonymous_metadata["x-request-id"] == anonymous.headers["X-Request-ID"]
    assert len(anonymous.headers["X-Request-ID"]) == 32
    assert _the_call_timeout(anonymous_remaining)


async def test_each_request_logs_one_access_line(recording_vcs, capsys, restore_logging):
    port, _ = recording_vcs
    configure_logging("INFO", json=True, service="gateway")
    async with _gateway(port) as client:
        found = await client.get(f"/api/repositories/{REPO_ID}", headers={"X-Request-ID": "trace-ok"})
        missing = await client.get(f"/api/repositories/{MISSING_ID}", headers={"X-Request-ID": "trace-404"})
    assert (found.status_code, missing.status_code) == (200, 404)
    lines = {line["request_id"]: line for line in _access_lines(capsys.readouterr().err)}
    assert set(lines) == {"trace-ok", "trace-404"}
    assert lines["trace-ok"]["status"] == 200 and lines["trace-404"]["status"] == 404
    assert lines["trace-404"]["path"] == f"/api/repositories/{MISSING_ID}" and lines["trace-404"]["method"] == "GET"
    for line in lines.values():
        assert line["service"] == "gateway" and line["level"] == "info" and line["logger"] == "beatflow.gateway.http"
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


async def test_no_access_line_below_info_and_a_later_configuration_applies(recording_vcs, capsys, restore_logging):
    port, _ = recording_vcs
    configure_logging("WARNING", json=True, service="gateway")
    async with _gateway(port) as client:
        await client.get(f"/api/repositories/{REPO_ID}", headers={"X-Request-ID": "trace-quiet"})
        assert _access_lines(capsys.readouterr().err) == []
        configure_logging("INFO", json=True, service="gateway-2")
        await client.get(f"/api/repositories/{REPO_ID}", headers={"X-Request-ID": "trace-loud"})
    (line,) = _access_lines(capsys.readouterr().err)
    assert line["request_id"] == "trace-loud" and line["service"] == "gateway-2"
