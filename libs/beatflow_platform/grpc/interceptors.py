"""Server interceptors as async context managers ("scopes") around every call.

One `ScopeInterceptor` wraps each handler once, for all four call shapes, and enters the
scopes in order around the servicer. Two scopes exist:
- `rpc_outcome_scope`: request id, exception -> status with details (the one mapping), one log line per call.
- `AuthScope`: verifies the bearer token (and, given a `SessionGuard`, that its session is live),
  allows a service only the methods granted to it, and binds the caller's `Principal`.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import NoReturn

import grpc
import psycopg
import structlog

from beatflow_platform.auth import Principal, PrincipalKind, TokenVerifier, bind_principal, reset_principal
from beatflow_platform.errors import (
    BeatFlowError,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    internal_status,
    to_grpc_status,
)
from beatflow_platform.logging import get_logger
from beatflow_platform.sessions import SessionGuard

RpcScope = Callable[[str, grpc.aio.ServicerContext], AbstractAsyncContextManager[None]]

REQUEST_ID_KEY = "x-request-id"
ON_BEHALF_OF_KEY = "x-beatflow-on-behalf-of"
# The end user's address as the gateway saw it, for login throttling; trusted only from inside the cluster.
CLIENT_ADDRESS_KEY = "x-beatflow-client-address"
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_PROBE_PREFIX = "/grpc.health.v1.Health/"
_log = get_logger("beatflow.rpc")


async def _abort(context: grpc.aio.ServicerContext, status: grpc.Status) -> NoReturn:
    # typeshed's grpc.aio.ServicerContext lacks abort_with_status, which grpc/aio/_base_server.py declares.
    await context.abort_with_status(status)  # pyright: ignore[reportAttributeAccessIssue]
    raise AssertionError("abort_with_status returned")  # it raises grpc.aio.AbortError


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str | bytes]:
    return {key: value for key, value in (context.invocation_metadata() or ())}


def _database_failure(error: Exception) -> BeatFlowError | None:
    """The database errors that are not bugs: an outage (retryable) or a value it cannot hold."""
    if isinstance(error, psycopg.OperationalError):
        return Unavailable("the database is unavailable; try again shortly", reason="DATABASE_UNAVAILABLE")
    if isinstance(error, psycopg.DataError):
        # A NUL byte in text, a number out of a column's range: the request's fault, whatever the field.
        return InvalidArgument(f"a value in the request cannot be stored: {str(error).splitlines()[0]}")
    return None


@asynccontextmanager
async def rpc_outcome_scope(method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    """Binds the request id, maps exceptions to statuses and logs the call's outcome."""
    incoming = _metadata(context).get(REQUEST_ID_KEY)
    request_id = incoming if isinstance(incoming, str) and _REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
    bound = structlog.contextvars.bind_contextvars(request_id=request_id, rpc=method)
    await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
    started = time.perf_counter()
    code = grpc.StatusCode.OK
    try:
        yield
    except BeatFlowError as error:
        code = error.code
        await _abort(context, to_grpc_status(error))
    except grpc.aio.AbortError:
        # The servicer aborted by itself; its code is already on the context.
        code = context.code() or grpc.StatusCode.UNKNOWN
        raise
    except asyncio.CancelledError:
        code = grpc.StatusCode.CANCELLED
        raise
    except Exception as error:
        expected = _database_failure(error)
        if expected is None:
            code = grpc.StatusCode.INTERNAL
            _log.exception("rpc failed with an unexpected error")
            await _abort(context, internal_status())
        else:
            code = expected.code
            _log.warning("database refused the call", reason=expected.reason, error=str(error).splitlines()[0][:200])
            await _abort(context, to_grpc_status(expected))
    finally:
        code_name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        # Probes arrive every few seconds; they are only worth a line when something is wrong.
        quiet = method.startswith(_PROBE_PREFIX) and code == grpc.StatusCode.OK
        log = _log.debug if quiet else _log.info
        log("rpc", code=code_name, duration_ms=round((time.perf_counter() - started) * 1000, 3))
        structlog.contextvars.reset_contextvars(**bound)


class AuthScope:
    """Requires a valid `authorization: Bearer <token>` on every method but the public ones.

    A token, when present, is verified even on public methods, so a bad one never passes silently;
    only on `credential_free_methods` (sign-up, sign-in, refresh, sign-out: methods a token means nothing to) is
    it ignored, so that a stale access token a client still sends, which a REST proxy forwards with
    every request, does not turn a refresh into UNAUTHENTICATED.
    A service may call only the methods `service_callers` grants it (service name -> full method
    names; none by default), and may act for a user there by naming them in `x-beatflow-on-behalf-of`;
    the call then has exactly that user's rights (a user token naming someone else is refused).
    With `sessions`, a user token is also refused once its session has ended (logout, refresh reuse).
    """

    ALWAYS_PUBLIC_PREFIXES = (_PROBE_PREFIX, "/grpc.reflection.")

    def __init__(
        self,
        verifier: TokenVerifier,
        public_methods: Collection[str] = (),
        *,
        sessions: SessionGuard | None = None,
        service_callers: Mapping[str, Collection[str]] | None = None,
        credential_free_methods: Collection[str] = (),
    ):
        self._verifier = verifier
        self._public_methods = frozenset(public_methods) | frozenset(credential_free_methods)
        self._credential_free_methods = frozenset(credential_free_methods)
        self._sessions = sessions
        self._service_callers = {name: frozenset(methods) for name, methods in (service_callers or {}).items()}

    def _is_public(self, method: str) -> bool:
        return method in self._public_methods or method.startswith(self.ALWAYS_PUBLIC_PREFIXES)

    @asynccontextmanager
    async def __call__(self, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        metadata = _metadata(context)
        header = None if method in self._credential_free_methods else metadata.get("authorization")
        principal = None
        if header is not None:
            scheme, _, token = str(header).partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization metadata must be 'Bearer <token>'", reason="TOKEN_INVALID")
            access_token = token.strip()
            principal = self._verifier.verify(access_token)
            if self._sessions is not None and principal.kind is PrincipalKind.USER:
                await self._sessions.ensure_live(principal, access_token)
            if principal.is_service and method not in self._service_callers.get(principal.subject_id, ()):
                raise PermissionDenied(
                    f"service {principal.subject_id!r} may not call {method}", reason="SERVICE_NOT_ALLOWED"
                )
            on_behalf_of = metadata.get(ON_BEHALF_OF_KEY)
            if on_behalf_of is not None:
                if not principal.is_service:
                    raise PermissionDenied("only services may act on behalf of a user", reason="NOT_A_SERVICE")
                principal = Principal(str(on_behalf_of), PrincipalKind.USER, principal.expires_at)
        elif not self._is_public(method):
            raise Unauthenticated("authentication required", reason="NO_CREDENTIALS")
        token = bind_principal(principal)
        try:
            yield
        finally:
            reset_principal(token)


class ScopeInterceptor(grpc.aio.ServerInterceptor):
    """Enters `scopes` (outermost first) around every call the server handles."""

    def __init__(self, scopes: Sequence[RpcScope]):
        self._scopes = tuple(scopes)

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return _wrap_handler(handler, handler_call_details.method, self._scopes)


async def _enter_scopes(stack: AsyncExitStack, scopes: Sequence[RpcScope], method: str, context) -> None:
    for scope in scopes:
        await stack.enter_async_context(scope(method, context))


def _wrap_handler(handler: grpc.RpcMethodHandler, method: str, scopes: Sequence[RpcScope]) -> grpc.RpcMethodHandler:
    def wrap_unary_response(behaviour):
        async def wrapped(request, context):
            async with AsyncExitStack() as stack:
                await _enter_scopes(stack, scopes, method, context)
                return await behaviour(request, context)

        return wrapped

    def wrap_stream_response(behaviour):
        if not inspect.isasyncgenfunction(behaviour):
            # A streaming handler may also be a coroutine that writes with context.write().
            return wrap_unary_response(behaviour)

        async def wrapped(request, context):
            async with AsyncExitStack() as stack:
                await _enter_scopes(stack, scopes, method, context)
                async for response in behaviour(request, context):
                    yield response

        return wrapped

    wrap = wrap_stream_response if handler.response_streaming else wrap_unary_response
    return with_behaviour(handler, wrap(behaviour_of(handler)))


_HANDLER_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def behaviour_of(handler: grpc.RpcMethodHandler) -> Callable:
    """The one function a handler holds, whichever of the four call shapes it has."""
    behaviour = handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    assert behaviour is not None, "a handler has one of the four call shapes"
    return behaviour


def with_behaviour(handler: grpc.RpcMethodHandler, behaviour: Callable) -> grpc.RpcMethodHandler:
    """`handler` with `behaviour` in place of its function: same call shape and (de)serialisers."""
    factory = _HANDLER_FACTORIES[(handler.request_streaming, handler.response_streaming)]
    return factory(
        behaviour, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )
