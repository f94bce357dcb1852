"""Access tokens stop working when their session ends (logout, refresh-token reuse), on vcs and on a
job service, within `auth.session_check_seconds`: real vcs, real PostgreSQL, real gRPC. Also the
migration that turns earlier sign-ins into sessions."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources

import grpc
import psycopg
import pytest
from grpc_status import rpc_status

from beatflow.auth.v1 import auth_pb2
from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow_platform.auth import TokenIssuer, TokenVerifier
from beatflow_platform.db.migrations import load_migrations, migrate
from beatflow_platform.db.pool import connect
from beatflow_platform.errors import Unauthenticated
from beatflow_platform.jobs.runtime import JobRuntime, JobServiceSettings
from beatflow_platform.sessions import VcsSessionLookup
from beatflow_platform.settings import DatabaseSettings
from tests.fixtures.keys import auth_settings, signed
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error

CACHE_SECONDS = 1.0
# Scheduling noise on a shared machine, on top of the cache bound.
SLACK_SECONDS = 1.5


@pytest.fixture
async def vcs(vcs_factory) -> VcsUnderTest:
    return await vcs_factory(auth=auth_settings("vcs", session_check_seconds=CACHE_SECONDS))


@pytest.fixture
async def jobs_channel(vcs: VcsUnderTest, database_dsn):
    """The JobService as generator and separator serve it (its auth scope asks vcs about sessions)."""
    settings = JobServiceSettings(
        service_name="generator",
        grpc_port=0,
        vcs_address=f"127.0.0.1:{vcs.port}",
        database=DatabaseSettings(url=database_dsn),
        auth=auth_settings("generator", session_check_seconds=CACHE_SECONDS),
        shutdown_grace_seconds=0,
    )
    app = (await JobRuntime.open(settings)).app({}, [])
    port = await app.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield channel
    await channel.close()
    await app.stop()


def on_vcs(caller: Caller):
    return caller.auth.GetCurrentUser(auth_pb2.GetCurrentUserRequest())


def on_jobs(channel: grpc.aio.Channel, access_token: str):
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    return stub.ListJobs(jobs_pb2.ListJobsRequest(), metadata=(("authorization", f"Bearer {access_token}"),))


async def seconds_until_refused(call, limit: float = CACHE_SECONDS + SLACK_SECONDS) -> float:
    """Repeats `call()` until it fails UNAUTHENTICATED with TOKEN_REVOKED; fails the test after `limit`."""
    started = time.monotonic()
    while time.monotonic() - started <= limit:
        try:
            await call()
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
            assert "TOKEN_REVOKED" in str(rpc_status.from_call(error).details)
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    pytest.fail(f"the token still worked {limit} s after its session ended")


async def test_logout_ends_the_access_token_on_vcs_and_on_a_job_service(vcs: VcsUnderTest, jobs_channel):
    alice = await vcs.sign_up()
    other_device = Caller(
        alice.user,
        (
            await vcs.anonymous_auth.Login(
                auth_pb2.LoginRequest(login=alice.user.username, password="correct horse battery")
            )
        ).tokens,
        vcs.channel,
    )
    # Both services have just seen the session live (and cached that).
    await on_vcs(alice)
    await on_jobs(jobs_channel, alice.tokens.access_token)

    await vcs.anonymous_auth.Logout(auth_pb2.LogoutRequest(refresh_token=alice.tokens.refresh_token))

    await seconds_until_refused(lambda: on_vcs(alice))
    await seconds_until_refused(lambda: on_jobs(jobs_channel, alice.tokens.access_token))
    # Only that sign-in ended: the same user's other session still works everywhere.
    assert (await on_vcs(other_device)).user.user_id == alice.user.user_id
    await on_jobs(jobs_channel, other_device.tokens.access_token)


async def test_refresh_token_reuse_ends_every_access_token_of_the_session(vcs: VcsUnderTest, jobs_channel):
    bob = await vcs.sign_up()
    stolen = bob.tokens.refresh_token
    rotated = (await vcs.anonymous_auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=stolen))).tokens
    await on_jobs(jobs_channel, rotated.access_token)

    await rpc_error(vcs.anonymous_auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=stolen)))

    for access_token in (bob.tokens.access_token, rotated.access_token):
        await seconds_until_refused(lambda token=access_token: on_jobs(jobs_channel, token))
        caller = Caller(bob.user, auth_pb2.TokenPair(access_token=access_token), vcs.channel)
        await seconds_until_refused(lambda caller=caller: on_vcs(caller))
    error = await rpc_error(
        vcs.anonymous_auth.VerifyToken(auth_pb2.VerifyTokenRequest(access_token=rotated.access_token))
    )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_signed_user_token_without_a_session_is_refused(vcs: VcsUnderTest, jobs_channel):
    carol = await vcs.sign_up()
    # Correctly signed, but names no session (as tokens minted before sessions existed).
    now = int(time.time())
    sessionless = signed(
        {"sub": carol.user.user_id, "kind": "user", "iss": "beatflow", "aud": "beatflow", "iat": now, "exp": now + 60}
    )
    for call in (
        on_vcs(Caller(carol.user, auth_pb2.TokenPair(access_token=sessionless), vcs.channel)),
        on_jobs(jobs_channel, sessionless),
    ):
        error = await rpc_error(call)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "TOKEN_INVALID" in str(rpc_status.from_call(error).details)


async def test_the_vcs_lookup_tells_an_ended_session_from_an_expired_token(vcs: VcsUnderTest):
    dana = await vcs.sign_up()
    session_id = TokenVerifier(vcs.settings.auth, "vcs").verify(dana.tokens.access_token).session_id
    lookup = VcsSessionLookup(vcs.channel)
    assert await lookup(session_id, dana.tokens.access_token)
    # Expired by vcs's clock: an answer about the token, not about the session, so it must not be cached as ended.
    expired = TokenIssuer(vcs.settings.auth).issue(
        dana.user.user_id, session_id=session_id, now=datetime.now(UTC) - timedelta(hours=1)
    )
    with pytest.raises(Unauthenticated) as caught:
        await lookup(session_id, expired)
    assert caught.value.reason == "TOKEN_EXPIRED"
    await vcs.anonymous_auth.Logout(auth_pb2.LogoutRequest(refresh_token=dana.tokens.refresh_token))
    assert not await lookup(session_id, dana.tokens.access_token)


async def test_sign_ins_from_before_sessions_become_sessions(database_dsn):
    """Migration 0006 turns every refresh-token family into a session, ended where the family was revoked."""
    migrations = load_migrations(resources.files("beatflow_vcs.migrations"))
    before = [m for m in migrations if m.version < 6]
    user, live, revoked = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with await connect(database_dsn) as conn:
        await migrate(conn, "vcs_upgrade", before)
        await conn.execute(
            "INSERT INTO vcs_upgrade.users (id, username, email, password_hash) VALUES (%s, 'old', 'old@x.org', 'h')",
            (user,),
        )
        rows = [("a", live, None), ("b", live, None), ("c", revoked, datetime.now(UTC))]
        for token_hash, family, revoked_at in rows:
            await conn.execute(
                "INSERT INTO vcs_upgrade.refresh_tokens (token_hash, user_id, family_id, expires_at, revoked_at)"
                " VALUES (%s, %s, %s, now() + interval '1 day', %s)",
                (token_hash, user, family, revoked_at),
            )
        await migrate(conn, "vcs_upgrade", migrations)
        cursor = await conn.execute("SELECT id, user_id, revoked_at IS NOT NULL AS ended FROM vcs_upgrade.sessions")
        sessions = {row["id"]: (row["user_id"], row["ended"]) for row in await cursor.fetchall()}
        assert sessions == {live: (user, False), revoked: (user, True)}
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            await conn.execute(
                "INSERT INTO vcs_upgrade.refresh_tokens (token_hash, user_id, family_id, expires_at)"
                " VALUES ('d', %s, %s, now())",
                (user, uuid.uuid4()),
            )
