"""/api/auth: register, login, refresh, logout, me."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import AliasChoices, Field

from beatflow.auth.v1 import auth_pb2
from beatflow_gateway.client_address import client_address
from beatflow_gateway.context import Anonymous, Authorised, Services, to_json
from beatflow_gateway.models import Body, DisplayName, Email, Login, RefreshToken, Username
from beatflow_platform import naming
from beatflow_platform.grpc.interceptors import CLIENT_ADDRESS_KEY

router = APIRouter(prefix="/api/auth", tags=["Auth"])


class RegisterBody(Body):
    username: Username = Field(description=naming.USERNAME_RULE)
    email: Email
    password: str = Field(min_length=naming.MIN_PASSWORD_LENGTH, max_length=naming.MAX_PASSWORD_LENGTH)
    display_name: DisplayName = ""


class LoginBody(Body):
    # `username` as in register; `login`, its former name, is still accepted.
    username: Login = Field(
        validation_alias=AliasChoices("username", "login"), description="Username or email (alias: `login`)"
    )
    password: str = Field(max_length=naming.MAX_PASSWORD_LENGTH)


class RefreshBody(Body):
    refresh_token: RefreshToken


@router.post("/register", status_code=201)
async def register(body: RegisterBody, call: Anonymous, services: Services) -> dict:
    response = await services.auth.Register(
        auth_pb2.RegisterRequest(**body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


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


@router.post("/refresh")
async def refresh(body: RefreshBody, call: Anonymous, services: Services) -> dict:
    response = await services.auth.RefreshToken(
        auth_pb2.RefreshTokenRequest(refresh_token=body.refresh_token), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


@router.post("/logout", status_code=204)
async def logout(body: RefreshBody, call: Authorised, services: Services) -> None:
    await services.auth.Logout(
        auth_pb2.LogoutRequest(refresh_token=body.refresh_token), metadata=call.metadata, timeout=call.timeout
    )


@router.get("/me")
async def me(call: Authorised, services: Services) -> dict:
    response = await services.auth.GetCurrentUser(
        auth_pb2.GetCurrentUserRequest(), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response.user)
