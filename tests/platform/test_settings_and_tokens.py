"""Settings from the environment, the access-token codec and the session guard's cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import ValidationError

from beatflow_platform.auth import PrincipalKind, TokenCodec
from beatflow_platform.errors import Unauthenticated
from beatflow_platform.sessions import SessionGuard
from beatflow_platform.settings import AuthSettings, ServiceSettings

SECRET = "a-secret-of-at-least-thirty-two-characters"


class VcsLikeSettings(ServiceSettings):
    model_config = ServiceSettings.model_config | {"env_prefix": "BEATFLOW_DEMO_"}


def test_each_service_reads_its_own_prefix_and_nested_groups(monkeypatch):
    monkeypatch.setenv("BEATFLOW_DEMO_GRPC_PORT", "6001")
    monkeypatch.setenv("BEATFLOW_DEMO_OBJECT_STORE__KIND", "s3")
    monkeypatch.setenv("BEATFLOW_DEMO_OBJECT_STORE__ACCESS_KEY", "ak")
    monkeypatch.setenv("BEATFLOW_DEMO_OBJECT_STORE__SECRET_KEY", "sk")
    monkeypatch.setenv("BEATFLOW_OTHER_GRPC_PORT", "7001")
    settings = VcsLikeSettings()
    assert settings.grpc_port == 6001
    assert settings.object_store.kind == "s3"
    assert settings.object_store.secret_key.get_secret_value() == "sk"
    assert "sk" not in repr(settings)


def test_s3_without_credentials_is_refused(monkeypatch):
    monkeypatch.setenv("BEATFLOW_DEMO_OBJECT_STORE__KIND", "s3")
    with pytest.raises(ValidationError, match="access_key and secret_key"):
        VcsLikeSettings()


def test_out_of_range_values_are_refused(monkeypatch):
    monkeypatch.setenv("BEATFLOW_DEMO_GRPC_PORT", "70000")
    with pytest.raises(ValidationError):
        VcsLikeSettings()


def test_tokens_round_trip_with_kind():
    codec = TokenCodec(AuthSettings(jwt_secret=SECRET))
    principal = codec.verify(codec.issue("svc-generator", PrincipalKind.SERVICE))
    assert principal.subject_id == "svc-generator"
    assert principal.is_service
    assert principal.expires_at > datetime.now(UTC)


def test_short_secrets_are_refused():
    with pytest.raises(ValueError, match="at least 32"):
        TokenCodec(AuthSettings(jwt_secret="short"))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
        lambda token: jwt.encode(
            {**jwt.decode(token, options={"verify_signature": False}), "sub": "mallory"}, "x" * 40
        ),
        lambda token: jwt.encode(jwt.decode(token, options={"verify_signature": False}), None, algorithm="none"),
    ],
    ids=["signature", "claims-resigned", "alg-none"],
)
def test_tampered_tokens_are_refused(tamper):
    codec = TokenCodec(AuthSettings(jwt_secret=SECRET))
    with pytest.raises(Unauthenticated) as caught:
        codec.verify(tamper(codec.issue("alice")))
    assert caught.value.reason == "TOKEN_INVALID"


def test_audience_and_issuer_are_checked():
    issuer = TokenCodec(AuthSettings(jwt_secret=SECRET, jwt_audience="other-app"))
    with pytest.raises(Unauthenticated):
        TokenCodec(AuthSettings(jwt_secret=SECRET)).verify(issuer.issue("alice"))


def test_expired_tokens_are_refused():
    codec = TokenCodec(AuthSettings(jwt_secret=SECRET, access_token_ttl_seconds=60))
    token = codec.issue("alice", now=datetime.now(UTC) - timedelta(minutes=5))
    with pytest.raises(Unauthenticated) as caught:
        codec.verify(token)
    assert caught.value.reason == "TOKEN_EXPIRED"


def test_user_tokens_carry_their_session():
    codec = TokenCodec(AuthSettings(jwt_secret=SECRET))
    assert codec.verify(codec.issue("alice", session_id="s-1")).session_id == "s-1"
    assert codec.verify(codec.issue("svc-generator", PrincipalKind.SERVICE)).session_id == ""


class _Sessions:
    """A session store the test ends sessions in, counting how often it is asked."""

    def __init__(self):
        self.ended: set[str] = set()
        self.lookups = 0

    async def is_live(self, session_id: str, access_token: str) -> bool:
        self.lookups += 1
        return session_id not in self.ended


async def test_the_guard_trusts_an_answer_for_the_cache_bound_only():
    codec = TokenCodec(AuthSettings(jwt_secret=SECRET))
    token = codec.issue("alice", session_id="s-1")
    principal = codec.verify(token)
    sessions, now = _Sessions(), [100.0]
    guard = SessionGuard(sessions.is_live, cache_seconds=5.0, clock=lambda: now[0])
    await guard.ensure_live(principal, token)
    sessions.ended.add("s-1")
    now[0] += 4.9
    await guard.ensure_live(principal, token)
    assert sessions.lookups == 1, "within the bound the cached answer is used"
    now[0] += 0.1
    with pytest.raises(Unauthenticated) as caught:
        await guard.ensure_live(principal, token)
    assert caught.value.reason == "TOKEN_REVOKED"
    assert sessions.lookups == 2


async def test_the_guard_refuses_user_tokens_that_name_no_session():
    codec = TokenCodec(AuthSettings(jwt_secret=SECRET))
    token = codec.issue("alice")
    sessions = _Sessions()
    with pytest.raises(Unauthenticated) as caught:
        await SessionGuard(sessions.is_live, cache_seconds=0).ensure_live(codec.verify(token), token)
    assert caught.value.reason == "TOKEN_INVALID"
    assert sessions.lookups == 0
