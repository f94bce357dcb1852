"""Access tokens and the caller's identity.

The vcs service mints tokens for users; every service verifies them with the same
`TokenCodec`, and the auth interceptor puts the result in `current_principal()`. A user's token
names its session (claim "sid") so that logging out can end it early (`beatflow_platform.sessions`).
"""

from __future__ import annotations

import contextvars
import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from beatflow_platform.errors import Unauthenticated
from beatflow_platform.settings import AuthSettings

_ALGORITHM = "HS256"
_MIN_SECRET_LENGTH = 32


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


class TokenCodec:
    """Encodes and checks HS256 access tokens (issuer, audience, expiry, kind)."""

    def __init__(self, settings: AuthSettings):
        secret = settings.jwt_secret.get_secret_value()
        if len(secret) < _MIN_SECRET_LENGTH:
            raise ValueError(f"auth.jwt_secret must be at least {_MIN_SECRET_LENGTH} characters")
        self._secret = secret
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._ttl = timedelta(seconds=settings.access_token_ttl_seconds)

    @property
    def ttl_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    def issue(
        self,
        subject_id: str,
        kind: PrincipalKind = PrincipalKind.USER,
        *,
        session_id: str = "",
        now: datetime | None = None,
    ) -> str:
        issued_at = now or datetime.now(UTC)
        claims = {
            "sub": subject_id,
            "kind": kind.value,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": issued_at,
            "exp": issued_at + self._ttl,
            "jti": uuid.uuid4().hex,
        }
        if session_id:
            claims["sid"] = session_id
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
            kind = PrincipalKind(claims.get("kind", PrincipalKind.USER.value))
            if kind is PrincipalKind.ANONYMOUS:
                raise ValueError("no token speaks for an anonymous caller")
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("access token expired", reason="TOKEN_EXPIRED") from exc
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise Unauthenticated("invalid access token", reason="TOKEN_INVALID") from exc
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        return Principal(str(claims["sub"]), kind, expires_at, session_id=str(claims.get("sid", "")))


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
