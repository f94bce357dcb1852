"""An aio gRPC server with health, reflection, interceptors and graceful shutdown.

Health reports NOT_SERVING until every readiness check passes (database reachable, object
store reachable, model loaded...), keeps re-checking while running, and turns NOT_SERVING
again as soon as SIGTERM arrives so load balancers stop routing before in-flight calls drain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from beatflow_platform.grpc.interceptors import RpcScope, ScopeInterceptor
from beatflow_platform.grpc.validation import ValidationInterceptor
from beatflow_platform.lifecycle import until_signalled
from beatflow_platform.logging import get_logger
from beatflow_platform.settings import ServiceSettings

ReadinessCheck = Callable[[], Awaitable[None]]
ShutdownHook = Callable[[], Awaitable[None]]

_log = get_logger("beatflow.server")
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class ServiceRegistration:
    """A servicer and its full proto service name (for health and reflection)."""

    full_name: str
    add_to_server: Callable[[grpc.aio.Server], None]


class GrpcHost:
    def __init__(
        self,
        settings: ServiceSettings,
        services: Sequence[ServiceRegistration],
        *,
        scopes: Sequence[RpcScope],
        readiness_checks: Sequence[ReadinessCheck] = (),
        on_shutdown: Sequence[ShutdownHook] = (),
        recheck_interval_seconds: float = 5.0,
    ):
        self._settings = settings
        self._services = tuple(services)
        self._readiness_checks = tuple(readiness_checks)
        self._on_shutdown = tuple(on_shutdown)
        self._recheck_interval = recheck_interval_seconds
        # health.py binds `aio` by importing its _async module; the package ships no stub that says so.
        self._health = health.aio.HealthServicer()  # pyright: ignore[reportAttributeAccessIssue]
        self._server = grpc.aio.server(
            # Scopes outermost: a request is validated once its caller is known, and a refusal is
            # mapped to a status like any other error.
            interceptors=[ScopeInterceptor(scopes), ValidationInterceptor()],
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                ("grpc.so_reuseport", 0),
            ],
        )
        self._stopping = asyncio.Event()
        self._monitor: asyncio.Task | None = None
        self.port: int | None = None

    async def start(self) -> int:
        """Binds, starts serving (health NOT_SERVING) and returns the bound port."""
        for service in self._services:
            service.add_to_server(self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            [s.full_name for s in self._services] + [health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
        )
        await self._set_health(_NOT_SERVING)
        address = f"{self._settings.grpc_host}:{self._settings.grpc_port}"
        self.port = self._server.add_insecure_port(address)
        await self._server.start()
        self._monitor = asyncio.create_task(self._watch_readiness(), name="readiness-monitor")
        _log.info("grpc server started", address=f"{self._settings.grpc_host}:{self.port}")
        return self.port

    async def _checks_pass(self) -> bool:
        for check in self._readiness_checks:
            try:
                await check()
            except Exception as exc:  # any failure means "not ready", with the reason logged
                _log.warning(
                    "readiness check failed", check=getattr(check, "__qualname__", repr(check)), error=str(exc)
                )
                return False
        return True

    async def _watch_readiness(self) -> None:
        serving = None
        while not self._stopping.is_set():
            ready = await self._checks_pass()
            if ready != serving and not self._stopping.is_set():
                await self._set_health(_SERVING if ready else _NOT_SERVING)
                _log.info("health changed", status="SERVING" if ready else "NOT_SERVING")
                serving = ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._recheck_interval if ready else 0.5)

    async def _set_health(self, status: int) -> None:
        await self._health.set("", status)
        for service in self._services:
            await self._health.set(service.full_name, status)

    def request_stop(self) -> None:
        self._stopping.set()

    async def announce_shutdown(self) -> None:
        """Health NOT_SERVING from now on, so that balancers send new calls elsewhere; calls
        still arrive and are served until `stop`. Idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        await self._health.enter_graceful_shutdown()
        if self._monitor is not None:
            await self._monitor
        _log.info("shutting down: health NOT_SERVING")

    async def stop(self) -> None:
        """Stops taking calls, lets in-flight ones finish within the grace period, runs shutdown hooks."""
        await self.announce_shutdown()
        _log.info("draining", grace_seconds=self._settings.shutdown_grace_seconds)
        await self._server.stop(self._settings.shutdown_grace_seconds)
        for hook in self._on_shutdown:
            await hook()
        _log.info("grpc server stopped")

    async def serve_until_signalled(self) -> None:
        """Runs until SIGTERM or SIGINT, then stops gracefully."""
        await self.start()
        await until_signalled()
        await self.stop()
