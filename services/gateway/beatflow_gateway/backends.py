"""The services the gateway calls, through the SDK's client (one channel and typed stubs per
service; each call carries the caller's metadata and a deadline)."""

from __future__ import annotations

import grpc
from beatflow_sdk.client import AsyncBeatFlow, Endpoints

from beatflow_gateway.settings import GatewaySettings

MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class Backends(AsyncBeatFlow):
    @classmethod
    def connect(cls, settings: GatewaySettings) -> Backends:
        endpoints = Endpoints(
            vcs=settings.vcs_address, generator=settings.generator_address, separator=settings.separator_address
        )
        return cls(endpoints, timeout_seconds=settings.call_timeout_seconds, max_message_bytes=MAX_MESSAGE_BYTES)

    @staticmethod
    def _open(address: str, options, interceptors) -> grpc.aio.Channel:
        """The SDK's channel (its retry policy and message limits) without its interceptors: they add a token, a
        request id and a deadline to calls that lack them, and every call of the gateway carries its caller's
        (context.Call; a stream that may run long carries none, as in the SDK). An intercepted call costs a task
        and ~150 us more of this process's CPU."""
        return grpc.aio.insecure_channel(address, options=options)

    @property
    def channels(self) -> dict[str, grpc.aio.Channel]:
        """Each service's channel by name (vcs, generator, separator)."""
        return dict(self._channels)
