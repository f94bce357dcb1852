"""/api/auth: register, login, refresh, logout, me."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from beatflow.auth.v1 import auth_pb2
from beatflow_gateway.context import Anonymous, Authorised, Services, to_json
from beatflow_gateway.models import Body

router = APIRouter(prefix="/api/auth", tags=["Auth"])


class RegisterBody(Body):
    username: str = Field(max_length=64)
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    display_name: str = Field(default="", max_length=100)


class LoginBody(Body):
    login: str = Field(max_length=254, description="Username or email")
    password: str = Field(max_length=1024)


class RefreshBody(Body):
    refresh_token: str = Field(max_length=512)


@router.post("/register", status_code=201)
async def register(body: RegisterBody, call: Anonymous, services: Services) -> dict:
    response = await services.auth.Register(
        auth_pb2.RegisterRequest(**body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


@router.post("/login")
async def login(body: LoginBody, call: Anonymous, services: Services) -> dict:
    response = await services.auth.Login(
        auth_pb2.LoginRequest(**body.model_dump()), metadata=call.metadata, timeout=call.timeout
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
