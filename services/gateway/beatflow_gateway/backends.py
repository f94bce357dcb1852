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

    @property
    def channels(self) -> dict[str, grpc.aio.Channel]:
        """Each service's channel by name (vcs, generator, separator)."""
        return dict(self._channels)
