"""/api/auth/login. Register, refresh, logout and me are transcoded from auth.proto's rules; login stays by hand
for the client address it passes on (login throttling) and the `login` alias of `username`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import AliasChoices, Field

from beatflow.auth.v1 import auth_pb2
from beatflow_gateway.client_address import client_address
from beatflow_gateway.context import Anonymous, Services, to_json
from beatflow_gateway.models import Body, Login
from beatflow_platform import naming
from beatflow_platform.grpc.interceptors import CLIENT_ADDRESS_KEY

router = APIRouter(prefix="/api/auth", tags=["Auth"])


class LoginBody(Body):
    # `username` as in register; `login`, its former name, is still accepted.
    username: Login = Field(
        validation_alias=AliasChoices("username", "login"), description="Username or email (alias: `login`)"
    )
    password: str = Field(max_length=naming.MAX_PASSWORD_LENGTH)


@router.post("/login")
async def login(body: LoginBody, request: Request, call: Anonymous, services: Services) -> dict:
    """Failed logins are throttled per (login, client address): 429 with Retry-After while one must wait."""
    # vcs counts failures per client address; behind proxies, set BEATFLOW_GATEWAY_TRUSTED_PROXIES.
    proxies = request.app.state.settings.trusted_proxies
    metadata = (*call.metadata, (CLIENT_ADDRESS_KEY, client_address(request, proxies)))
    response = await services.auth.Login(
        auth_pb2.LoginRequest(login=body.username, password=body.password), metadata=metadata, timeout=call.timeout
    )
    return to_json(response)
