"""Whether a user token's session is still live, so that logout ends its access tokens early.

vcs owns the sessions (table `vcs.sessions`): it answers from the table, and every other service
asks vcs through `AuthService.VerifyToken`. `SessionGuard` remembers each answer for
`cache_seconds`, which bounds how long an access token keeps working after its session ends.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.auth.v1 import auth_pb2, auth_pb2_grpc
from beatflow_platform.auth import Principal
from beatflow_platform.errors import Unauthenticated, Unavailable

# (session id, the access token that names it) -> whether the session is live.
SessionLookup = Callable[[str, str], Awaitable[bool]]

_MAX_REMEMBERED = 100_000


class SessionGuard:
    """Refuses user tokens whose session has ended, asking `lookup` at most once per `cache_seconds`
    per session (0: every time)."""

    def __init__(self, lookup: SessionLookup, cache_seconds: float, *, clock: Callable[[], float] = time.monotonic):
        self._lookup = lookup
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._answers: dict[str, tuple[bool, float]] = {}

    async def ensure_live(self, principal: Principal, access_token: str) -> None:
        if not principal.session_id:
            raise Unauthenticated("access token names no session; sign in again", reason="TOKEN_INVALID")
        now = self._clock()
        answer = self._answers.get(principal.session_id)
        if answer is None or now - answer[1] >= self._cache_seconds:
            live = await self._lookup(principal.session_id, access_token)
            self._remember(principal.session_id, live, now)
        else:
            live = answer[0]
        if not live:
            raise Unauthenticated("this session has ended; sign in again", reason="TOKEN_REVOKED")

    def _remember(self, session_id: str, live: bool, now: float) -> None:
        if self._cache_seconds <= 0:
            return
        if len(self._answers) >= _MAX_REMEMBERED:
            self._answers = {sid: a for sid, a in self._answers.items() if now - a[1] < self._cache_seconds}
            if len(self._answers) >= _MAX_REMEMBERED:
                self._answers.clear()
        self._answers[session_id] = (live, now)


class VcsSessionLookup:
    """Asks vcs (`AuthService.VerifyToken`) whether a token's session is live; for services other than vcs."""

    def __init__(self, vcs_channel: grpc.aio.Channel, *, timeout_seconds: float = 3.0):
        self._auth = auth_pb2_grpc.AuthServiceStub(vcs_channel)
        self._timeout = timeout_seconds

    async def __call__(self, session_id: str, access_token: str) -> bool:
        try:
            await self._auth.VerifyToken(auth_pb2.VerifyTokenRequest(access_token=access_token), timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                if _reason(error) == "TOKEN_EXPIRED":
                    # Expired on vcs's clock a moment after it passed here: says nothing of the session.
                    raise Unauthenticated("access token expired", reason="TOKEN_EXPIRED") from error
                return False
            # Fail closed: a token whose session cannot be checked is not accepted.
            raise Unavailable(
                "cannot check the session with vcs; try again shortly", reason="SESSION_CHECK_UNAVAILABLE"
            ) from error
        return True


def _reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason of a BeatFlow error status ("" when it has none)."""
    # typeshed wants a grpc.Call; from_call reads only code(), details() and trailing_metadata(), which AioRpcError has.
    status = rpc_status.from_call(error)  # pyright: ignore[reportArgumentType]
    for packed in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if packed.Unpack(info):
            return info.reason
    return ""
