"""Settings from the environment and the session guard's cache (tokens: test_signed_tokens.py)."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from beatflow_platform.auth import TokenIssuer, TokenVerifier
from beatflow_platform.errors import Unauthenticated
from beatflow_platform.sessions import SessionGuard
from beatflow_platform.settings import ServiceSettings
from tests.fixtures.keys import auth_settings, signed

VCS = auth_settings("vcs")


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


class _Sessions:
    """A session store the test ends sessions in, counting how often it is asked."""

    def __init__(self):
        self.ended: set[str] = set()
        self.lookups = 0

    async def is_live(self, session_id: str, access_token: str) -> bool:
        self.lookups += 1
        return session_id not in self.ended


async def test_the_guard_trusts_an_answer_for_the_cache_bound_only():
    token = TokenIssuer(VCS).issue("alice", session_id="s-1")
    principal = TokenVerifier(VCS, "vcs").verify(token)
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
    now = int(time.time())
    token = signed({"sub": "alice", "kind": "user", "iss": "beatflow", "aud": "beatflow", "iat": now, "exp": now + 60})
    sessions = _Sessions()
    with pytest.raises(Unauthenticated) as caught:
        await SessionGuard(sessions.is_live, cache_seconds=0).ensure_live(
            TokenVerifier(VCS, "vcs").verify(token), token
        )
    assert caught.value.reason == "TOKEN_INVALID"
    assert sessions.lookups == 0
