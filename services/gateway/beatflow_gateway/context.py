"""Per-request call context: the caller's token and request id as gRPC metadata, and deadlines."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf.message import Message
from starlette.requests import HTTPConnection

from beatflow_gateway import proto_json
from beatflow_gateway.backends import Backends
from beatflow_gateway.errors import ApiError

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")


@dataclass(frozen=True)
class Call:
    metadata: tuple[tuple[str, str], ...]
    timeout: float
    slow_timeout: float

    @property
    def authenticated(self) -> bool:
        return any(key == "authorization" for key, _ in self.metadata)


def request_id_for(request: HTTPConnection) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def anonymous_call(request: HTTPConnection) -> Call:
    settings = request.app.state.settings
    return Call(
        (("x-request-id", request.state.request_id),), settings.call_timeout_seconds, settings.slow_call_timeout_seconds
    )


def authorised_call(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Call:
    """The caller's bearer token goes to the services, which verify it; none at all is a 401 here."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "UNAUTHENTICATED", "send 'Authorization: Bearer <access token>'")
    call = anonymous_call(request)
    return Call(
        (*call.metadata, ("authorization", f"Bearer {credentials.credentials}")), call.timeout, call.slow_timeout
    )


def forwarded_call(request: Request) -> Call:
    """As Envoy's transcoder passes a call on: the Authorization header, when sent, goes to the service as it
    came (the service verifies it, and refuses what it must refuse)."""
    call = anonymous_call(request)
    authorization = request.headers.get("authorization")
    if authorization is None:
        return call
    return Call((*call.metadata, ("authorization", authorization)), call.timeout, call.slow_timeout)


def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> Call:
    return authorised_call(request, credentials)


def anyone(request: Request) -> Call:
    return anonymous_call(request)


def reader(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> Call:
    """For reads open to anyone: the caller's token when they send one (it must then be valid), else none.

    Without a token the services treat the caller as a stranger: public repositories are readable,
    private ones do not exist (404).
    """
    if credentials is None and "authorization" not in request.headers:
        return anonymous_call(request)
    return authorised_call(request, credentials)


# The query parameter of RFC 6750, section 2.3. Logs mask it (beatflow_platform.logging).
ACCESS_TOKEN_QUERY = "access_token"
# A bearer token's characters (RFC 6750 b64token) and a bound far above an Ed25519 JWT's ~400 characters, so that a
# URL holding one stays within what the HTTP server reads.
ACCESS_TOKEN_SHAPE = r"^[A-Za-z0-9._~+/-]+=*$"
MAX_ACCESS_TOKEN_LENGTH = 2048


def media_reader(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    access_token: str = Query(
        default="",
        alias=ACCESS_TOKEN_QUERY,
        max_length=MAX_ACCESS_TOKEN_LENGTH,
        pattern=ACCESS_TOKEN_SHAPE,
        description="The access token, for pages whose <audio> or <img> cannot send 'Authorization' (which wins)",
    ),
) -> Call:
    """A `reader` for audio and pictures: a media element cannot send headers, so the token may also come in the
    query; an `Authorization` header, when sent, is the one used. Without either, the caller is a stranger
    (public repositories only)."""
    if not access_token or credentials is not None or "authorization" in request.headers:
        return reader(request, credentials)
    return authorised_call(request, HTTPAuthorizationCredentials(scheme="Bearer", credentials=access_token))


def backends(request: Request) -> Backends:
    return request.app.state.backends


Authorised = Annotated[Call, Depends(caller)]
Anonymous = Annotated[Call, Depends(anyone)]
Reader = Annotated[Call, Depends(reader)]
MediaReader = Annotated[Call, Depends(media_reader)]
# For routes that take a Reader: the bearer token is optional (an empty requirement is added to FastAPI's).
OPTIONAL_TOKEN = {"security": [{}]}
Services = Annotated[Backends, Depends(backends)]


def to_json(message: Message) -> dict:
    """A protobuf message as the JSON the API returns (field names as in the .proto files)."""
    return proto_json.to_dict(message)
