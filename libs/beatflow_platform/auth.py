"""Access tokens and the caller's identity.

Two kinds of token, both EdDSA (Ed25519) JWTs whose header names the signing key ("kid"):
- a user's access token, signed by the issuer (vcs, `TokenIssuer`) with the one private key only it
  holds; every service verifies it with the issuer's public keys (`auth.token_public_keys`);
- a service token, signed by the calling service with its own key (kid and subject = its name, audience
  = the service called; `beatflow_platform.service_auth`); the receiver verifies it with that service's
  public key (`auth.service_public_keys`) and decides in code what the caller may do (`AuthScope`).
A key id is looked up in exactly one of the two sets, so no service key can sign a user's token.

The auth interceptor puts the verified caller in `current_principal()`. A user's token names its session
(claim "sid") so that logging out can end it early (`beatflow_platform.sessions`).
"""

from __future__ import annotations

import contextvars
import enum
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from beatflow_platform.errors import Unauthenticated
from beatflow_platform.keys import KeyConfigurationError, load_private_key, load_public_keys
from beatflow_platform.lru import LruCache
from beatflow_platform.settings import AuthSettings

ALGORITHM = "EdDSA"
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud"]
# Tokens a verifier remembers having verified: a client sends the same token with every call until it expires.
VERIFIED_TOKENS_REMEMBERED = 4096


class PrincipalKind(enum.StrEnum):
    USER = "user"
    SERVICE = "service"
    # A caller without a token, on a method that allows it (public reads); never in a token.
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    subject_id: str
    kind: PrincipalKind
    expires_at: datetime
    # The sign-in a user token belongs to; empty for service tokens.
    session_id: str = ""

    @property
    def is_service(self) -> bool:
        return self.kind is PrincipalKind.SERVICE

    @property
    def is_anonymous(self) -> bool:
        return self.kind is PrincipalKind.ANONYMOUS


ANONYMOUS = Principal("", PrincipalKind.ANONYMOUS, datetime.max.replace(tzinfo=UTC))


class TokenIssuer:
    """Signs users' access tokens (issuer, audience, expiry, session); only vcs builds one."""

    def __init__(self, settings: AuthSettings):
        key_id = settings.token_signing_key_id
        if not key_id:
            raise KeyConfigurationError("auth.token_signing_key_id is not set")
        self._key = load_private_key(settings.token_signing_key.get_secret_value(), "auth.token_signing_key")
        published = settings.token_public_keys.get(key_id)
        if published is None:
            raise KeyConfigurationError(
                f"auth.token_signing_key_id {key_id!r} is not in auth.token_public_keys: no service would accept"
                " the tokens it signs"
            )
        if self._key.public_key() not in load_public_keys(published, f"auth.token_public_keys[{key_id!r}]"):
            raise KeyConfigurationError(
                f"auth.token_public_keys[{key_id!r}] is not the public half of auth.token_signing_key"
            )
        self._key_id = key_id
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._ttl = timedelta(seconds=settings.access_token_ttl_seconds)

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    def issue(self, subject_id: str, *, session_id: str, now: datetime | None = None) -> str:
        """An access token for user `subject_id`, valid for `ttl_seconds` within sign-in `session_id`."""
        issued_at = now or datetime.now(UTC)
        claims = {
            "sub": subject_id,
            "kind": PrincipalKind.USER.value,
            "sid": session_id,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": issued_at,
            "exp": issued_at + self._ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._key_id})


class TokenVerifier:
    """Checks the tokens a service receives: users' access tokens and, from the services it trusts,
    service tokens addressed to it (`service_name`).

    What a token says is a function of its text and the keys, which are fixed for the verifier's life, so a
    token verified once is remembered (up to `VERIFIED_TOKENS_REMEMBERED`, least recently used out) and its
    signature is not checked again until it expires: the Ed25519 check was a tenth of vcs's CPU time on a
    repository read. Expiry is checked on every call; a remembered token past it is verified anew (and refused
    as expired). Revocation is not a property of the text: sessions (`beatflow_platform.sessions`) check it.
    """

    def __init__(self, settings: AuthSettings, service_name: str):
        self._user_keys = _public_keys(settings.token_public_keys, "auth.token_public_keys")
        if not self._user_keys:
            raise KeyConfigurationError("auth.token_public_keys is empty: no user's access token could be verified")
        self._service_keys = _public_keys(settings.service_public_keys, "auth.service_public_keys")
        shared = self._user_keys.keys() & self._service_keys.keys()
        if shared:
            raise KeyConfigurationError(
                f"key ids {sorted(shared)} are in both auth.token_public_keys and auth.service_public_keys"
            )
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._service_name = service_name
        self._verified: LruCache[str, Principal] = LruCache(VERIFIED_TOKENS_REMEMBERED)

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None and time.time() < remembered.expires_at.timestamp():
            return remembered
        principal = self._verify_signed(token)
        self._verified.put(token, principal)
        return principal

    def _verify_signed(self, token: str) -> Principal:
        try:
            key_id = jwt.get_unverified_header(token).get("kid")
            if not isinstance(key_id, str):
                raise jwt.InvalidTokenError("names no signing key")
            if key_id in self._user_keys:
                claims = _decode(token, self._user_keys[key_id], audience=self._audience, issuer=self._issuer)
                kind = PrincipalKind.USER
            elif key_id in self._service_keys:
                # A service signs its own tokens: issuer, subject and key id are all its name.
                claims = _decode(token, self._service_keys[key_id], audience=self._service_name, issuer=key_id)
                if claims["sub"] != key_id:
                    raise jwt.InvalidTokenError("a service token names another service")
                kind = PrincipalKind.SERVICE
            else:
                raise jwt.InvalidTokenError("signed by an unknown key")
            if claims.get("kind") != kind.value:
                raise jwt.InvalidTokenError(f"not a {kind.value} token")
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("access token expired", reason="TOKEN_EXPIRED") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("invalid access token", reason="TOKEN_INVALID") from exc
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        return Principal(str(claims["sub"]), kind, expires_at, session_id=str(claims.get("sid", "")))


def _public_keys(settings: Mapping[str, str], setting: str) -> dict[str, list[Ed25519PublicKey]]:
    return {key_id: load_public_keys(value, f"{setting}[{key_id!r}]") for key_id, value in settings.items()}


def _decode(token: str, keys: list[Ed25519PublicKey], *, audience: str, issuer: str) -> dict:
    """The claims of `token` checked with the first of `keys` its signature matches."""
    for key in keys[:-1]:
        try:
            return _decode_with(token, key, audience=audience, issuer=issuer)
        except jwt.InvalidSignatureError:
            continue
    return _decode_with(token, keys[-1], audience=audience, issuer=issuer)


def _decode_with(token: str, key: Ed25519PublicKey, *, audience: str, issuer: str) -> dict:
    return jwt.decode(
        token, key, algorithms=[ALGORITHM], audience=audience, issuer=issuer, options={"require": _REQUIRED_CLAIMS}
    )


_current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current_principal() -> Principal:
    """The authenticated caller of the RPC in progress; UNAUTHENTICATED when there is none."""
    principal = _current_principal.get()
    if principal is None:
        raise Unauthenticated("authentication required", reason="NO_CREDENTIALS")
    return principal


def optional_principal() -> Principal | None:
    return _current_principal.get()


def reader_principal() -> Principal:
    """The caller of a method open to anonymous readers: the authenticated caller, else ANONYMOUS."""
    return _current_principal.get() or ANONYMOUS


def bind_principal(principal: Principal | None) -> contextvars.Token:
    return _current_principal.set(principal)


def reset_principal(token: contextvars.Token) -> None:
    _current_principal.reset(token)
