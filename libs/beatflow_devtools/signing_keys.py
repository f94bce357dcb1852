"""The Ed25519 keys of a stack on one machine (`make run`, tests, benchmarks), and which service holds which.

- vcs, the issuer, holds the private key of users' access tokens (key id `TOKEN_KEY_ID`) and the
  public keys of the services that call it;
- every other gRPC service (a caller: generator, separator) holds its own private key and the
  issuer's public key;
- the gateway holds none: it passes the user's token on and never verifies or signs one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from beatflow_platform.keys import private_key_pem, public_key_pem, write_key_pair

ISSUER = "vcs"
TOKEN_KEY_ID = "users-1"


@dataclass(frozen=True)
class KeyPair:
    """Each half as a key setting's value: PEM text or the path of a PEM file."""

    private: str
    public: str


@dataclass(frozen=True)
class StackKeys:
    token: KeyPair
    callers: dict[str, KeyPair]

    @classmethod
    def generate(cls, callers: Iterable[str]) -> StackKeys:
        """Fresh pairs held in memory as PEM text (tests)."""

        def pair() -> KeyPair:
            key = Ed25519PrivateKey.generate()
            return KeyPair(private_key_pem(key), public_key_pem(key))

        return cls(pair(), {name: pair() for name in callers})

    @classmethod
    def in_directory(cls, directory: Path, callers: Iterable[str]) -> StackKeys:
        """The pairs kept as files in `directory` (<name>.key, mode 0600, and <name>.pub); the missing
        ones are written first, so they survive restarts and the tokens they signed stay valid."""

        def pair(name: str) -> KeyPair:
            private, public = directory / f"{name}.key", directory / f"{name}.pub"
            if not private.exists():
                write_key_pair(directory, name)
            return KeyPair(str(private), str(public))

        return cls(pair(TOKEN_KEY_ID), {name: pair(name) for name in callers})

    def auth_settings(self, service: str) -> dict[str, object]:
        """The key fields of `service`'s AuthSettings: only what that service should hold."""
        if service == ISSUER:
            return {
                "token_signing_key": self.token.private,
                "token_signing_key_id": TOKEN_KEY_ID,
                "token_public_keys": {TOKEN_KEY_ID: self.token.public},
                "service_public_keys": {name: pair.public for name, pair in self.callers.items()},
            }
        if service in self.callers:
            return {
                "service_key": self.callers[service].private,
                "token_public_keys": {TOKEN_KEY_ID: self.token.public},
            }
        return {}

    def environment(self, service: str) -> dict[str, str]:
        """The same as settings without the service's prefix (AUTH__SERVICE_KEY, ...): maps as JSON."""
        return {
            f"AUTH__{field.upper()}": value if isinstance(value, str) else json.dumps(value)
            for field, value in self.auth_settings(service).items()
        }
