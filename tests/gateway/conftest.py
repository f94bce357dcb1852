"""The gateway in-process (ASGI) over a real vcs; generator and separator are down unless a test starts them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from beatflow_devtools.network import free_port
from beatflow_gateway.app import create_app
from beatflow_gateway.backends import Backends
from beatflow_gateway.settings import GatewaySettings


@contextlib.asynccontextmanager
async def in_process_gateway(**settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the gateway's ASGI app, its backends connected as `settings` (GatewaySettings) say."""
    gateway_settings = GatewaySettings(**settings)
    app = create_app(gateway_settings)
    app.state.backends = Backends.connect(gateway_settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            yield client
    finally:
        await app.state.backends.close()


@pytest.fixture
async def gateway_factory(vcs_factory):
    """gateway(**settings) -> an httpx client on the ASGI app; generator and separator are down."""
    async with contextlib.AsyncExitStack() as gateways:

        async def start(**overrides):
            vcs = await vcs_factory()
            down = f"127.0.0.1:{free_port()}"
            settings = {"generator_address": down, "separator_address": down, "call_timeout_seconds": 10}
            return await gateways.enter_async_context(
                in_process_gateway(vcs_address=f"127.0.0.1:{vcs.port}", **settings | overrides)
            )

        yield start


async def signed_in(client: httpx.AsyncClient, name: str = "gwuser") -> dict[str, str]:
    response = await client.post(
        "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": "a long password"}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['tokens']['access_token']}"}
