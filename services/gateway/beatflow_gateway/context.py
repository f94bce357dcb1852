"""Per-request call context: the caller's token and request id as gRPC metadata, and deadlines."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format

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


def request_id_for(request: Request) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def anonymous_call(request: Request) -> Call:
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


def backends(request: Request) -> Backends:
    return request.app.state.backends


Authorised = Annotated[Call, Depends(caller)]
Anonymous = Annotated[Call, Depends(anyone)]
Reader = Annotated[Call, Depends(reader)]
# For routes that take a Reader: the bearer token is optional (an empty requirement is added to FastAPI's).
OPTIONAL_TOKEN = {"security": [{}]}
Services = Annotated[Backends, Depends(backends)]


def to_json(message) -> dict:
    """A protobuf message as the JSON the API returns (field names as in the .proto files)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
