"""Credentials for calls between services.

Each service signs its own short-lived service tokens with its own Ed25519 key (`auth.service_key`):
kind "service", key id, issuer and subject = its name, audience = the service it calls. It renews
them before they expire; nothing long-lived is stored or passed around. The receiver verifies them
with the caller's public key and allows only the methods its code grants that caller
(`AuthScope(service_callers=...)`). A service key cannot sign a user's access token: the issuer's
key ids and the services' names are separate sets at every receiver.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt

from beatflow_platform.auth import ALGORITHM, PrincipalKind
from beatflow_platform.grpc.interceptors import ON_BEHALF_OF_KEY
from beatflow_platform.keys import load_private_key
from beatflow_platform.settings import AuthSettings

SERVICE_TOKEN_TTL_SECONDS = 300
_RENEW_BEFORE_SECONDS = 60


class ServiceTokenSource:
    """Service tokens of `service_name` for calls to `audience` (the called service's name)."""

    def __init__(self, settings: AuthSettings, service_name: str, audience: str):
        self._key = load_private_key(settings.service_key.get_secret_value(), "auth.service_key")
        self._service_name = service_name
        self._audience = audience
        self._token = ""
        self._renew_at = 0.0

    def _sign(self) -> str:
        issued_at = datetime.now(UTC)
        claims = {
            "sub": self._service_name,
            "kind": PrincipalKind.SERVICE.value,
            "iss": self._service_name,
            "aud": self._audience,
            "iat": issued_at,
            "exp": issued_at + timedelta(seconds=SERVICE_TOKEN_TTL_SECONDS),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._service_name})

    def token(self) -> str:
        now = time.monotonic()
        if now >= self._renew_at:
            self._token = self._sign()
            self._renew_at = now + SERVICE_TOKEN_TTL_SECONDS - _RENEW_BEFORE_SECONDS
        return self._token

    def metadata(self, on_behalf_of: str = "") -> tuple[tuple[str, str], ...]:
        """Call metadata that authenticates this service, acting for user `on_behalf_of` when given."""
        metadata = (("authorization", f"Bearer {self.token()}"),)
        if on_behalf_of:
            metadata += ((ON_BEHALF_OF_KEY, on_behalf_of),)
        return metadata
