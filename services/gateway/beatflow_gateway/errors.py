"""One error format for every failure: {"code", "message", "details"}, mapped once.

gRPC statuses become HTTP statuses through the platform's single table; their rich details
(ErrorInfo, BadRequest, ResourceInfo, RetryInfo) are passed on as JSON objects with a "type", in the
proto3 JSON mapping every response uses (proto_json.PRINT_OPTIONS: proto field names, every field printed), so
that Envoy in front of the same services answers with the same body (deploy/envoy/envoy.yaml).
A RetryInfo (or an ErrorInfo's retry_after_seconds) becomes the Retry-After header.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from starlette.exceptions import HTTPException as StarletteHTTPException

from beatflow_gateway import proto_json
from beatflow_platform.errors import http_status_for
from beatflow_platform.logging import get_logger

_DETAIL_TYPES = (
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.ResourceInfo,
    error_details_pb2.RetryInfo,
)
_HTTP_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    429: "RESOURCE_EXHAUSTED",
}
_log = get_logger("beatflow.gateway")


class ApiError(Exception):
    """A failure decided by the gateway itself."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def body(code: str, message: str, details: list | None = None) -> dict:
    return {"code": code, "message": message, "details": details or []}


def grpc_details(error: grpc.aio.AioRpcError) -> list[dict]:
    # grpc_status is typed for grpc.Call; an AioRpcError has the same code(), details() and trailing_metadata().
    status = rpc_status.from_call(error)  # pyright: ignore[reportArgumentType]
    details = []
    for packed in status.details if status else []:
        for detail_type in _DETAIL_TYPES:
            if packed.Is(detail_type.DESCRIPTOR):
                detail = detail_type()
                packed.Unpack(detail)
                details.append({"type": detail_type.DESCRIPTOR.name, **proto_json.to_dict(detail)})
    return details


def error_reason(error: grpc.aio.AioRpcError) -> str:
    return next((d.get("reason", "") for d in grpc_details(error) if d["type"] == "ErrorInfo"), "")


def grpc_error_response(error: grpc.aio.AioRpcError) -> JSONResponse:
    code = error.code()
    status = http_status_for(code)
    message = error.details() or code.name.lower()
    if code == grpc.StatusCode.UNAVAILABLE:
        message = "a backend service is unavailable; try again shortly"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = "a backend service did not answer in time"
    details = grpc_details(error)
    retry_after = _retry_after(details)
    headers = {"Retry-After": retry_after} if retry_after else None
    return JSONResponse(body(code.name, message, details), status_code=status, headers=headers)


def _retry_after(details: list[dict]) -> str | None:
    """Whole seconds to wait, from a RetryInfo ("2.5s" in JSON) or else an ErrorInfo's metadata."""
    for detail in details:
        if detail["type"] == "RetryInfo" and detail.get("retry_delay", "").endswith("s"):
            return str(max(1, math.ceil(float(detail["retry_delay"][:-1]))))
    return next((d.get("metadata", {}).get("retry_after_seconds") for d in details if d["type"] == "ErrorInfo"), None)


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    path = request.url.path
    return {
        method
        for route in _routes(request.app.routes)
        if getattr(route, "methods", None) and route.path_regex.match(path)
        for method in route.methods
    }


def _routes(routes: list) -> Iterator:
    """Every route, also those of routers FastAPI includes lazily (as one entry holding `original_router`)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is None:
            yield route
        else:
            yield from _routes(included.routes)


def install(app: FastAPI) -> None:
    @app.exception_handler(grpc.aio.AioRpcError)
    async def on_grpc_error(request: Request, error: grpc.aio.AioRpcError) -> JSONResponse:
        return grpc_error_response(error)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(body(error.code, error.message, error.details), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        violations = [
            {
                "field": ".".join(str(part) for part in issue["loc"][1:]) or str(issue["loc"][0]),
                "description": issue["msg"],
            }
            for issue in error.errors()
        ]
        details = [{"type": "BadRequest", "field_violations": violations}]
        message = "; ".join(f"{v['field']}: {v['description']}" for v in violations)
        return JSONResponse(body("INVALID_ARGUMENT", message, details), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(error.status_code, "INTERNAL" if error.status_code >= 500 else "FAILED_PRECONDITION")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        return JSONResponse(body(code, str(error.detail)), status_code=error.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        _log.exception("request failed with an unexpected error")
        return JSONResponse(body("INTERNAL", "internal error"), status_code=500)
