"""The one mapping from domain errors to gRPC statuses and from gRPC codes to HTTP statuses."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

from beatflow_platform.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    http_status_for,
    to_grpc_status,
)


def _status(error) -> status_pb2.Status:
    grpc_status = to_grpc_status(error)
    ((key, value),) = grpc_status.trailing_metadata
    assert key == "grpc-status-details-bin"
    return status_pb2.Status.FromString(value)


def test_invalid_argument_lists_field_violations():
    error = InvalidArgument("bad request", violations=[FieldViolation("bpm", "must be 60 to 300")])
    status = _status(error)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    bad_request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad_request) for detail in status.details if detail.Is(bad_request.DESCRIPTOR))
    assert [(v.field, v.description) for v in bad_request.field_violations] == [("bpm", "must be 60 to 300")]


def test_already_exists_names_the_resource():
    status = _status(AlreadyExists("repository", "alice/demo"))
    assert status.code == grpc.StatusCode.ALREADY_EXISTS.value[0]
    assert status.message == "repository 'alice/demo' already exists"


def test_http_table_matches_the_architecture():
    expected = {
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.FAILED_PRECONDITION: 400,
        grpc.StatusCode.OUT_OF_RANGE: 400,
        grpc.StatusCode.UNAUTHENTICATED: 401,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.ALREADY_EXISTS: 409,
        grpc.StatusCode.ABORTED: 409,
        grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
        grpc.StatusCode.CANCELLED: 499,
        grpc.StatusCode.UNIMPLEMENTED: 501,
        grpc.StatusCode.UNAVAILABLE: 503,
        grpc.StatusCode.DEADLINE_EXCEEDED: 504,
        grpc.StatusCode.INTERNAL: 500,
        grpc.StatusCode.DATA_LOSS: 500,
        grpc.StatusCode.UNKNOWN: 500,
    }
    assert {code: http_status_for(code) for code in expected} == expected
