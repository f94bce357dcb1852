"""The one place where failures become gRPC statuses (and, at the gateway, HTTP statuses).

Domain code raises these exceptions; the error interceptor turns them into a
`google.rpc.Status` with machine-readable details. Nothing else maps errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "beatflow.dev"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class BeatFlowError(Exception):
    """Base of every failure a caller should see as a specific status.

    `reason` is a stable UPPER_SNAKE_CASE identifier clients can switch on;
    `metadata` adds machine-readable context (never secrets).
    """

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, metadata: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})

    def details(self) -> list[Message]:
        return [error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)]


class InvalidArgument(BeatFlowError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, violations: list[FieldViolation] | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.violations = violations or []

    @classmethod
    def for_field(cls, field_name: str, description: str) -> InvalidArgument:
        return cls(f"{field_name}: {description}", violations=[FieldViolation(field_name, description)])

    def details(self) -> list[Message]:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in self.violations
            ]
        )
        return [*super().details(), bad_request]


class FailedPrecondition(BeatFlowError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class OutOfRange(BeatFlowError):
    code = grpc.StatusCode.OUT_OF_RANGE
    default_reason = "OUT_OF_RANGE"


class Unauthenticated(BeatFlowError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDenied(BeatFlowError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


@dataclass
class _Resource:
    type: str
    name: str


class NotFound(BeatFlowError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"

    def __init__(self, resource_type: str, resource_name: str, message: str | None = None, **kwargs):
        super().__init__(message or f"{resource_type} {resource_name!r} not found", **kwargs)
        self.resource = _Resource(resource_type, resource_name)

    def details(self) -> list[Message]:
        info = error_details_pb2.ResourceInfo(resource_type=self.resource.type, resource_name=self.resource.name)
        return [*super().details(), info]


class AlreadyExists(NotFound):
    """Same details as NotFound (which resource), the opposite meaning."""

    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"

    def __init__(self, resource_type: str, resource_name: str, message: str | None = None, **kwargs):
        super().__init__(
            resource_type, resource_name, message or f"{resource_type} {resource_name!r} already exists", **kwargs
        )


class Aborted(BeatFlowError):
    """A compare-and-swap lost a race; metadata says what the current state is."""

    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"


class ResourceExhausted(BeatFlowError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(BeatFlowError):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DataLoss(BeatFlowError):
    code = grpc.StatusCode.DATA_LOSS
    default_reason = "DATA_LOSS"


class Unimplemented(BeatFlowError):
    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "UNIMPLEMENTED"


def to_grpc_status(error: BeatFlowError) -> grpc.Status:
    """The status (code, message, packed details) a caller receives for `error`."""
    packed = []
    for detail in error.details():
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    status = status_pb2.Status(code=error.code.value[0], message=error.message, details=packed)
    return rpc_status.to_status(status)


def internal_status(message: str = "internal error") -> grpc.Status:
    """For unexpected exceptions: a generic message, the cause stays in the server log."""
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.INTERNAL, message=message))


HTTP_STATUS_BY_GRPC_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: HTTPStatus.OK,
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.OUT_OF_RANGE: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
    grpc.StatusCode.ABORTED: HTTPStatus.CONFLICT,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
    grpc.StatusCode.CANCELLED: 499,  # nginx's "client closed request"; no HTTPStatus member exists
    grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
}


def http_status_for(code: grpc.StatusCode) -> int:
    """HTTP status for a gRPC code, per the table in ARCHITECTURE.md; anything unlisted is 500."""
    return int(HTTP_STATUS_BY_GRPC_CODE.get(code, HTTPStatus.INTERNAL_SERVER_ERROR))
