"""Credentials for calls between services.

Services share the token secret, so each mints its own short-lived service token (kind
"service", subject = its name) and renews it before it expires; nothing long-lived is
stored or passed around.
"""

from __future__ import annotations

import time

from beatflow_platform.auth import PrincipalKind, TokenCodec
from beatflow_platform.grpc.interceptors import ON_BEHALF_OF_KEY

_RENEW_BEFORE_SECONDS = 60


class ServiceTokenSource:
    def __init__(self, codec: TokenCodec, service_name: str):
        self._codec = codec
        self._service_name = service_name
        self._token = ""
        self._renew_at = 0.0

    def token(self) -> str:
        now = time.monotonic()
        if now >= self._renew_at:
            self._token = self._codec.issue(self._service_name, PrincipalKind.SERVICE)
            self._renew_at = now + max(self._codec.ttl_seconds - _RENEW_BEFORE_SECONDS, self._codec.ttl_seconds / 2)
        return self._token

    def metadata(self, on_behalf_of: str = "") -> tuple[tuple[str, str], ...]:
        """Call metadata that authenticates this service, acting for user `on_behalf_of` when given."""
        metadata = (("authorization", f"Bearer {self.token()}"),)
        if on_behalf_of:
            metadata += ((ON_BEHALF_OF_KEY, on_behalf_of),)
        return metadata
