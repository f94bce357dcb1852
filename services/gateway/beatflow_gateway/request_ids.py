"""Every HTTP request gets an id (the client's X-Request-ID when well-formed, else a new one): on the
request's state for the gRPC metadata, in the log context, in the response header, and in one access
log line. Plain ASGI: Starlette's BaseHTTPMiddleware costs a task and a stream per request."""

from __future__ import annotations

import time

import structlog
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beatflow_gateway.context import REQUEST_ID_HEADER, request_id_for
from beatflow_platform.logging import get_logger

_log = get_logger("beatflow.gateway.http")


class RequestIds:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        request_id = request.state.request_id = request_id_for(request)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**bound)
            _log.info(
                "http",
                method=scope["method"],
                path=_logged_path(scope["path"]),
                status=status,
                request_id=request_id,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


def _logged_path(path: str) -> str:
    """The path as `request.url.path` gives it, without building the URL (host, scheme, query) for it."""
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
