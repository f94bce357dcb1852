"""The FastAPI application: routes, one error format, request ids, CORS, OpenAPI docs."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from beatflow_gateway import errors, openapi
from beatflow_gateway.backends import Backends
from beatflow_gateway.context import REQUEST_ID_HEADER, request_id_for
from beatflow_gateway.routes import ai, audio, auth, health, jobs, live, renders, repositories, vcs
from beatflow_gateway.settings import GatewaySettings
from beatflow_platform.logging import get_logger

_log = get_logger("beatflow.gateway.http")
DOCS_ASSETS_URL = "/docs-assets"


def create_app(settings: GatewaySettings, backends: Backends | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.backends = backends or Backends.connect(settings)
        yield
        await app.state.backends.close()

    # /docs and /redoc with Swagger UI's and ReDoc's assets served from here, not a CDN (air-gapped
    # clusters); no online validator badge either.
    app = FastAPIOffline(
        title="BeatFlow API",
        description="AI music creation: generation, hum-to-beat, stems, analysis and Git-like history.",
        version="1.0.0",
        lifespan=lifespan,
        static_url=DOCS_ASSETS_URL,
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.settings = settings
    errors.install(app)
    openapi.install(app)
    for module in (health, auth, ai, jobs, live, audio, repositories, vcs, renders):
        app.include_router(module.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials="*" not in settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Range", "If-None-Match", REQUEST_ID_HEADER],
            expose_headers=[
                "Content-Range",
                "Content-Length",
                "ETag",
                "Retry-After",
                "X-Render-Cache",
                "X-Headroom-Gain-dB",
                REQUEST_ID_HEADER,
            ],
        )

    @app.middleware("http")
    async def request_ids(request: Request, call_next):
        request.state.request_id = request_id_for(request)
        bound = structlog.contextvars.bind_contextvars(request_id=request.state.request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.reset_contextvars(**bound)
        response.headers[REQUEST_ID_HEADER] = request.state.request_id
        _log.info(
            "http",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            request_id=request.state.request_id,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response

    return app
