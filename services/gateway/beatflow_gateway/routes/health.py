"""/ and /health (which asks every service's gRPC health service)."""

from __future__ import annotations

import asyncio

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc

router = APIRouter(tags=["Health"])


@router.get("/")
async def root() -> dict:
    return {
        "message": "BeatFlow AI Backend",
        "status": "operational",
        "endpoints": {"docs": "/docs", "redoc": "/redoc", "health": "/health"},
    }


async def _status(channel: grpc.aio.Channel) -> str:
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        # typeshed's grpc_health stub declares no methods on HealthStub; the generated class has Check.
        response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)  # pyright: ignore[reportAttributeAccessIssue]
    except grpc.aio.AioRpcError as error:
        return error.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


@router.get("/health", responses={503: {"description": "A service is not serving"}})
async def health(request: Request) -> JSONResponse:
    channels = request.app.state.backends.channels
    statuses = await asyncio.gather(*(_status(channel) for channel in channels.values()))
    services = dict(zip(channels, statuses, strict=True))
    healthy = all(status == "SERVING" for status in statuses)
    return JSONResponse(
        {"status": "healthy" if healthy else "degraded", "services": services}, status_code=200 if healthy else 503
    )
