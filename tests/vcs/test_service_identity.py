"""Service identity against a real vcs: a job service's key signs only its own service tokens, and vcs
lets each service call only the methods granted to it."""

from __future__ import annotations

import time

import grpc
import jwt
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.auth.v1 import auth_pb2
from beatflow.vcs.v1 import repositories_pb2, repositories_pb2_grpc, version_control_pb2, version_control_pb2_grpc
from beatflow_devtools.signing_keys import TOKEN_KEY_ID, StackKeys
from beatflow_platform.keys import KeyConfigurationError
from beatflow_platform.service_auth import ServiceTokenSource
from beatflow_platform.settings import AuthSettings
from tests.fixtures.keys import KEYS, auth_settings, service_tokens, signed
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error


def reason(error: grpc.aio.AioRpcError) -> str:
    for packed in rpc_status.from_call(error).details:
        info = error_details_pb2.ErrorInfo()
        if packed.Unpack(info):
            return info.reason
    return ""


def as_user(vcs: VcsUnderTest, caller: Caller, token: str) -> Caller:
    return Caller(caller.user, auth_pb2.TokenPair(access_token=token), vcs.channel)


async def test_a_generator_key_cannot_mint_a_user_token_vcs_accepts(vcs: VcsUnderTest):
    alice = await vcs.sign_up()
    real = jwt.decode(alice.tokens.access_token, options={"verify_signature": False})
    assert (await alice.auth.GetCurrentUser(auth_pb2.GetCurrentUserRequest())).user.user_id == alice.user.user_id
    # The real token's claims (live session included), signed with the generator's key.
    claims = {**real, "exp": int(time.time()) + 600}
    generator_key = KEYS.callers["generator"].private
    for key_id in ("generator", TOKEN_KEY_ID):
        forged = signed(claims, key=generator_key, key_id=key_id)
        error = await rpc_error(as_user(vcs, alice, forged).auth.GetCurrentUser(auth_pb2.GetCurrentUserRequest()))
        assert (error.code(), reason(error)) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID"), key_id
        error = await rpc_error(vcs.anonymous_auth.VerifyToken(auth_pb2.VerifyTokenRequest(access_token=forged)))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_services_call_only_the_methods_vcs_grants_them(vcs: VcsUnderTest):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("granted")
    repos = repositories_pb2_grpc.RepositoryServiceStub(vcs.channel)
    versions = version_control_pb2_grpc.VersionControlServiceStub(vcs.channel)
    get_repo = repositories_pb2.GetRepositoryRequest(repo_id=repo.repo_id)
    branches = version_control_pb2.ListBranchesRequest(repo_id=repo.repo_id)
    generator = service_tokens("generator").metadata(on_behalf_of=owner.user.user_id)
    separator = service_tokens("separator").metadata(on_behalf_of=owner.user.user_id)

    assert (await repos.GetRepository(get_repo, metadata=separator)).repository.name == "granted"
    await versions.ListBranches(branches, metadata=generator)  # the generator lands results as commits
    for call in (
        versions.ListBranches(branches, metadata=separator),
        repos.DeleteRepository(repositories_pb2.DeleteRepositoryRequest(repo_id=repo.repo_id), metadata=generator),
        vcs.anonymous_auth.GetCurrentUser(auth_pb2.GetCurrentUserRequest(), metadata=generator),
    ):
        error = await rpc_error(call)
        assert (error.code(), reason(error)) == (grpc.StatusCode.PERMISSION_DENIED, "SERVICE_NOT_ALLOWED")
    assert (await repos.GetRepository(get_repo, metadata=owner.metadata)).repository.name == "granted"


async def test_a_service_vcs_does_not_trust_is_refused(vcs: VcsUnderTest):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("private")
    stranger = StackKeys.generate(["mixer"]).callers["mixer"]
    tokens = ServiceTokenSource(AuthSettings(service_key=stranger.private), "mixer", "vcs")
    repos = repositories_pb2_grpc.RepositoryServiceStub(vcs.channel)
    error = await rpc_error(
        repos.GetRepository(
            repositories_pb2.GetRepositoryRequest(repo_id=repo.repo_id),
            metadata=tokens.metadata(on_behalf_of=owner.user.user_id),
        )
    )
    assert (error.code(), reason(error)) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")


async def test_vcs_does_not_start_with_a_job_service_s_keys(vcs_factory):
    with pytest.raises(KeyConfigurationError, match="token_signing_key"):
        await vcs_factory(auth=auth_settings("generator"))
