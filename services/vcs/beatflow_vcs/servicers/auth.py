"""beatflow.auth.v1.AuthService over `Accounts`."""

from __future__ import annotations

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from beatflow.auth.v1 import auth_pb2, auth_pb2_grpc
from beatflow_platform.auth import PrincipalKind, TokenVerifier, current_principal
from beatflow_platform.grpc.credentials import credential_free_methods
from beatflow_platform.grpc.interceptors import CLIENT_ADDRESS_KEY
from beatflow_platform.sessions import SessionGuard
from beatflow_vcs.accounts import Accounts
from beatflow_vcs.login_throttle import peer_host
from beatflow_vcs.servicers import convert

_SERVICE = auth_pb2.DESCRIPTOR.services_by_name["AuthService"]
SERVICE_NAME = _SERVICE.full_name
# A token means nothing to these (auth.proto's `credential_free`): one sent along is ignored, not verified, and
# AuthScope lets them be called without one.
CREDENTIAL_FREE_METHODS = credential_free_methods(_SERVICE)
# Callable without an access token besides those; a token sent is verified.
PUBLIC_METHODS = frozenset({f"/{SERVICE_NAME}/VerifyToken"})

_KIND = {PrincipalKind.USER: auth_pb2.PRINCIPAL_KIND_USER, PrincipalKind.SERVICE: auth_pb2.PRINCIPAL_KIND_SERVICE}


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, accounts: Accounts, verifier: TokenVerifier):
        self._accounts = accounts
        self._verifier = verifier
        # Other services cache what VerifyToken says; it answers from the table, uncached.
        self._sessions = SessionGuard(accounts.session_is_live, cache_seconds=0)

    async def Register(
        self, request: auth_pb2.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RegisterResponse:
        user, pair = await self._accounts.register(
            request.username, request.email, request.password, request.display_name
        )
        return auth_pb2.RegisterResponse(user=convert.user(user), tokens=convert.tokens(pair))

    async def Login(self, request: auth_pb2.LoginRequest, context: grpc.aio.ServicerContext) -> auth_pb2.LoginResponse:
        user, pair = await self._accounts.login(
            request.login, request.password, client_address=_client_address(context)
        )
        return auth_pb2.LoginResponse(user=convert.user(user), tokens=convert.tokens(pair))

    async def RefreshToken(
        self, request: auth_pb2.RefreshTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.RefreshTokenResponse:
        return auth_pb2.RefreshTokenResponse(tokens=convert.tokens(await self._accounts.refresh(request.refresh_token)))

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.LogoutResponse:
        await self._accounts.logout(request.refresh_token)
        return auth_pb2.LogoutResponse()

    async def GetCurrentUser(
        self, request: auth_pb2.GetCurrentUserRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetCurrentUserResponse:
        return auth_pb2.GetCurrentUserResponse(
            user=convert.user(await self._accounts.get_user(current_principal().subject_id))
        )

    async def VerifyToken(
        self, request: auth_pb2.VerifyTokenRequest, context: grpc.aio.ServicerContext
    ) -> auth_pb2.VerifyTokenResponse:
        principal = self._verifier.verify(request.access_token)
        if principal.kind is PrincipalKind.USER:
            await self._sessions.ensure_live(principal, request.access_token)
        expire_time = Timestamp()
        expire_time.FromDatetime(principal.expires_at)
        return auth_pb2.VerifyTokenResponse(
            subject_id=principal.subject_id, kind=_KIND[principal.kind], expire_time=expire_time
        )


def _client_address(context) -> str:
    forwarded = dict(context.invocation_metadata() or ()).get(CLIENT_ADDRESS_KEY, "")
    return forwarded or peer_host(context.peer())
