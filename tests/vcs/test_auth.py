"""Users and tokens through the real AuthService."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status

from beatflow.auth.v1 import auth_pb2
from tests.fixtures.vcs import VcsUnderTest, rpc_error


async def test_register_login_and_me(vcs: VcsUnderTest):
    alice = await vcs.sign_up("alice")
    assert alice.user.username == "alice"
    assert alice.tokens.token_type == "Bearer" and alice.tokens.expires_in > 0
    me = await alice.auth.GetCurrentUser(auth_pb2.GetCurrentUserRequest())
    assert me.user.user_id == alice.user.user_id
    for login in ("alice", "ALICE@example.com"):
        logged_in = await vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login=login, password="correct horse battery"))
        assert logged_in.user.user_id == alice.user.user_id


async def test_duplicate_username_or_email_is_already_exists(vcs: VcsUnderTest):
    await vcs.sign_up("bob")
    error = await rpc_error(
        vcs.anonymous_auth.Register(
            auth_pb2.RegisterRequest(username="bob", email="other@example.com", password="long enough password")
        )
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    error = await rpc_error(
        vcs.anonymous_auth.Register(
            auth_pb2.RegisterRequest(username="bobby", email="BOB@example.com", password="long enough password")
        )
    )
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "email" in error.details()


@pytest.mark.parametrize(
    ("username", "email", "password", "field"),
    [
        ("ab", "a@example.com", "long enough password", "username"),
        ("Upper", "a@example.com", "long enough password", "username"),
        ("robert'); DROP TABLE vcs.users;--", "a@example.com", "long enough password", "username"),
        ("carol", "not-an-email", "long enough password", "email"),
        ("carol", "c@example.com", "short", "password"),
    ],
)
async def test_bad_registrations_are_invalid_argument(vcs: VcsUnderTest, username, email, password, field):
    error = await rpc_error(
        vcs.anonymous_auth.Register(auth_pb2.RegisterRequest(username=username, email=email, password=password))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(field)


async def test_wrong_password_and_unknown_user_look_the_same(vcs: VcsUnderTest):
    await vcs.sign_up("dave")
    wrong = await rpc_error(vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="dave", password="wrong password!")))
    unknown = await rpc_error(vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="nobody", password="whatever!!")))
    assert wrong.code() == unknown.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.details() == unknown.details()


async def test_refresh_rotates_and_reuse_revokes_the_family(vcs: VcsUnderTest):
    erin = await vcs.sign_up("erin")
    first = erin.tokens.refresh_token
    rotated = (await vcs.anonymous_auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=first))).tokens
    assert rotated.refresh_token != first
    assert rotated.access_token
    # The spent token comes back: theft is assumed and the whole family dies.
    error = await rpc_error(vcs.anonymous_auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=first)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "already used" in error.details()
    error = await rpc_error(
        vcs.anonymous_auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=rotated.refresh_token))
    )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_logout_revokes_the_refresh_token(vcs: VcsUnderTest):
    frank = await vcs.sign_up("frank")
    await vcs.anonymous_auth.Logout(auth_pb2.LogoutRequest(refresh_token=frank.tokens.refresh_token))
    error = await rpc_error(
        vcs.anonymous_auth.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=frank.tokens.refresh_token))
    )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_verify_token_and_anonymous_me(vcs: VcsUnderTest):
    gina = await vcs.sign_up("gina")
    verified = await vcs.anonymous_auth.VerifyToken(auth_pb2.VerifyTokenRequest(access_token=gina.tokens.access_token))
    assert verified.subject_id == gina.user.user_id
    assert verified.kind == auth_pb2.PRINCIPAL_KIND_USER
    error = await rpc_error(vcs.anonymous_auth.GetCurrentUser(auth_pb2.GetCurrentUserRequest()))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_service_tokens_identify_services_without_user_rights(vcs: VcsUnderTest):
    from beatflow.vcs.v1 import repositories_pb2, repositories_pb2_grpc
    from tests.fixtures.keys import service_tokens

    owner = await vcs.sign_up()
    private = await owner.create_repo("private work")
    source = service_tokens("generator")
    assert source.token() == source.token(), "a token is reused until it nears expiry"
    verified = await vcs.anonymous_auth.VerifyToken(auth_pb2.VerifyTokenRequest(access_token=source.token()))
    assert (verified.subject_id, verified.kind) == ("generator", auth_pb2.PRINCIPAL_KIND_SERVICE)
    repos = repositories_pb2_grpc.RepositoryServiceStub(vcs.channel)
    error = await rpc_error(
        repos.GetRepository(repositories_pb2.GetRepositoryRequest(repo_id=private.repo_id), metadata=source.metadata())
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    error = await rpc_error(
        repos.CreateRepository(repositories_pb2.CreateRepositoryRequest(name="x"), metadata=source.metadata())
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_services_act_for_users_only_with_service_tokens(vcs: VcsUnderTest):
    from beatflow.vcs.v1 import repositories_pb2, repositories_pb2_grpc
    from tests.fixtures.keys import service_tokens

    owner, other = await vcs.sign_up(), await vcs.sign_up()
    private = await owner.create_repo("private work")
    repos = repositories_pb2_grpc.RepositoryServiceStub(vcs.channel)
    source = service_tokens("generator")
    as_owner = source.metadata(on_behalf_of=owner.user.user_id)
    found = await repos.GetRepository(repositories_pb2.GetRepositoryRequest(repo_id=private.repo_id), metadata=as_owner)
    assert found.repository.name == "private work"
    as_other = source.metadata(on_behalf_of=other.user.user_id)
    error = await rpc_error(
        repos.GetRepository(repositories_pb2.GetRepositoryRequest(repo_id=private.repo_id), metadata=as_other)
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    forged = (*other.metadata, ("x-beatflow-on-behalf-of", owner.user.user_id))
    error = await rpc_error(
        repos.GetRepository(repositories_pb2.GetRepositoryRequest(repo_id=private.repo_id), metadata=forged)
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_password_guessing_is_rate_limited_per_login(vcs_factory):
    vcs = await vcs_factory(login_max_failures=3)
    await vcs.sign_up("hana")
    await vcs.sign_up("ivan")
    for _ in range(3):
        error = await rpc_error(vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="hana", password="guess guess")))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    # Even the right password is refused now, and the caller learns when to come back.
    error = await rpc_error(
        vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="HANA", password="correct horse battery"))
    )
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "retry_after_seconds" in str(rpc_status.from_call(error).details)
    # Other accounts are not affected.
    assert (await vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="ivan", password="correct horse battery"))).user


async def test_a_successful_login_clears_earlier_failures(vcs_factory):
    vcs = await vcs_factory(login_max_failures=3)
    await vcs.sign_up("jade")
    for _ in range(2):
        await rpc_error(vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="jade", password="wrong one!")))
    await vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="jade", password="correct horse battery"))
    for _ in range(2):
        await rpc_error(vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="jade", password="wrong one!")))
    assert (await vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="jade", password="correct horse battery"))).user


async def test_values_postgres_cannot_hold_are_invalid_argument(vcs: VcsUnderTest):
    # A NUL byte cannot be stored in PostgreSQL text: the request is at fault, not the service.
    error = await rpc_error(vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="al\x00ice", password="whatever")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "NUL" in error.details()


async def test_sign_up_sign_in_refresh_and_sign_out_ignore_a_stale_access_token(vcs: VcsUnderTest):
    """A REST proxy forwards the client's Authorization header with every request: a token that has no meaning
    for these methods (here a revoked one, then garbage) is ignored there, and still refused everywhere else."""
    hana = await vcs.sign_up("hana")
    await vcs.anonymous_auth.Logout(auth_pb2.LogoutRequest(refresh_token=hana.tokens.refresh_token))
    relogged = await vcs.anonymous_auth.Login(auth_pb2.LoginRequest(login="hana", password="correct horse battery"))
    for stale in (hana.tokens.access_token, "not.a.token"):
        metadata = (("authorization", f"Bearer {stale}"),)
        refreshed = await vcs.anonymous_auth.RefreshToken(
            auth_pb2.RefreshTokenRequest(refresh_token=relogged.tokens.refresh_token), metadata=metadata
        )
        relogged = auth_pb2.LoginResponse(user=relogged.user, tokens=refreshed.tokens)
        signed_in = await vcs.anonymous_auth.Login(
            auth_pb2.LoginRequest(login="hana", password="correct horse battery"), metadata=metadata
        )
        assert signed_in.user.user_id == hana.user.user_id
        new_user = f"hana{len(stale)}"
        registered = await vcs.anonymous_auth.Register(
            auth_pb2.RegisterRequest(
                username=new_user, email=f"{new_user}@example.com", password="long enough password"
            ),
            metadata=metadata,
        )
        assert registered.user.username == new_user
        error = await rpc_error(vcs.anonymous_auth.GetCurrentUser(auth_pb2.GetCurrentUserRequest(), metadata=metadata))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        # Signing out needs only the refresh token: the stale access token beside it does not stop it.
        await vcs.anonymous_auth.Logout(
            auth_pb2.LogoutRequest(refresh_token=relogged.tokens.refresh_token), metadata=metadata
        )
        error = await rpc_error(
            vcs.anonymous_auth.RefreshToken(
                auth_pb2.RefreshTokenRequest(refresh_token=relogged.tokens.refresh_token), metadata=metadata
            )
        )
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED  # that session has ended
        relogged = signed_in
