"""The gateway in-process (ASGI) over a real vcs; generator and separator are down unless a test starts them."""

from __future__ import annotations

import httpx
import pytest

from beatflow_devtools.network import free_port
from beatflow_gateway.app import create_app
from beatflow_gateway.backends import Backends
from beatflow_gateway.settings import GatewaySettings


@pytest.fixture
async def gateway_factory(vcs_factory):
    """gateway(**settings) -> an httpx client on the ASGI app; generator and separator are down."""
    clients = []

    async def start(**overrides):
        vcs = await vcs_factory()
        down = f"127.0.0.1:{free_port()}"
        settings = GatewaySettings(
            vcs_address=f"127.0.0.1:{vcs.port}",
            generator_address=down,
            separator_address=down,
            call_timeout_seconds=2,
            **overrides,
        )
        app = create_app(settings)
        app.state.backends = Backends.connect(settings)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        clients.append((client, app))
        return client

    yield start
    for client, app in clients:
        await client.aclose()
        await app.state.backends.close()


async def signed_in(client: httpx.AsyncClient, name: str = "gwuser") -> dict[str, str]:
    response = await client.post(
        "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": "a long password"}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['tokens']['access_token']}"}
