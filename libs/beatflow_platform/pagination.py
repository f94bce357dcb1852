"""Opaque, tamper-proof page tokens (AIP-158).

A token carries a small JSON cursor signed with HMAC-SHA256 and bound to a scope (the
method and its filters), so a client can neither forge a cursor that reaches into data it
may not list nor reuse a token with other filters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from beatflow_platform.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 20
_MAC_BYTES = 16


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = 100) -> int:
    """AIP-158: 0 means the default, larger than the maximum is clamped, negative is an error."""
    if requested < 0:
        raise InvalidArgument.for_field("page_size", "must not be negative")
    return default if requested == 0 else min(requested, maximum)


class PageTokens:
    def __init__(self, secret: str):
        self._key = hmac.new(secret.encode(), b"beatflow page tokens", hashlib.sha256).digest()

    def _mac(self, scope: str, payload: bytes) -> bytes:
        return hmac.new(self._key, scope.encode() + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, scope: str, cursor: dict) -> str:
        payload = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(self._mac(scope, payload) + payload).decode().rstrip("=")

    def decode(self, scope: str, token: str) -> dict | None:
        """The cursor of `token`, or None for the first page (empty token)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
            if not hmac.compare_digest(mac, self._mac(scope, payload)):
                raise ValueError("bad signature")
            cursor = json.loads(payload)
            if not isinstance(cursor, dict):
                raise ValueError("not an object")
        except ValueError:
            raise InvalidArgument.for_field(
                "page_token", "is not a token from a previous page of this request"
            ) from None
        return cursor
