"""The FastAPI application: routes, one error format, request ids, CORS, OpenAPI docs."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline

from beatflow_gateway import errors, openapi, studio, transcoding
from beatflow_gateway.backends import Backends
from beatflow_gateway.context import REQUEST_ID_HEADER
from beatflow_gateway.request_ids import RequestIds
from beatflow_gateway.routes import ai, audio, auth, health, jobs, live, renders, repositories, vcs
from beatflow_gateway.settings import GatewaySettings

DOCS_ASSETS_URL = "/docs-assets"
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


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
        # The gateway sets up no OpenTelemetry; with FastAPI's native telemetry on, every request would look the
        # global providers up (environment reads included) to find that out.
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    errors.install(app)
    openapi.install(app)
    for module in (health, auth, ai, jobs, live, audio, repositories, vcs, renders):
        app.include_router(module.router)
    transcoding.install(app)
    studio.mount(app)
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

    app.add_middleware(RequestIds)

    return app
