"""Login throttling over REST: 429 with Retry-After for the guessing address, the owner let in from
another, and X-Forwarded-For believed only from a configured proxy."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.requests import HTTPConnection

from beatflow_devtools.network import free_port
from beatflow_gateway.app import create_app
from beatflow_gateway.backends import Backends
from beatflow_gateway.client_address import client_address
from beatflow_gateway.settings import GatewaySettings

PASSWORD = "a long password"


@asynccontextmanager
async def gateway(vcs):
    """clients(address) -> an httpx client whose requests come from `address`, all on one gateway."""
    down = f"127.0.0.1:{free_port()}"
    settings = GatewaySettings(vcs_address=f"127.0.0.1:{vcs.port}", generator_address=down, separator_address=down)
    app = create_app(settings)
    app.state.backends = Backends.connect(settings)
    clients = []

    def client_from(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://gateway"))
        return clients[-1]

    try:
        yield client_from
    finally:
        for client in clients:
            await client.aclose()
        await app.state.backends.close()


async def test_a_guessing_address_gets_429_and_the_owner_elsewhere_gets_in(vcs_factory):
    vcs = await vcs_factory(login_max_failures=3)
    async with gateway(vcs) as client_from:
        owner, attacker = client_from("198.51.100.7"), client_from("203.0.113.66")
        registered = await owner.post(
            "/api/auth/register", json={"username": "victim", "email": "victim@example.com", "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        spoofed = {"X-Forwarded-For": "192.0.2.1"}  # no proxy is trusted: the header changes nothing
        statuses = []
        for _ in range(4):
            response = await attacker.post(
                "/api/auth/login", json={"login": "victim", "password": "not it at all"}, headers=spoofed
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        assert int(response.headers["retry-after"]) >= 1 and response.json()["code"] == "RESOURCE_EXHAUSTED"
        assert {"type": "RetryInfo", "retry_delay": f"{response.headers['retry-after']}s"} in response.json()["details"]
        right = await attacker.post("/api/auth/login", json={"login": "victim", "password": PASSWORD})
        assert right.status_code == 429, "the guessing address waits even with the right password"
        welcome = await owner.post("/api/auth/login", json={"login": "victim", "password": PASSWORD})
        assert welcome.status_code == 200 and welcome.json()["user"]["username"] == "victim"


def connection(peer: str, forwarded: list[str]) -> HTTPConnection:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return HTTPConnection({"type": "http", "client": (peer, 1234), "headers": headers})


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("203.0.113.9", ["192.0.2.1"], [], "203.0.113.9"),  # nothing trusted: the socket's peer
        ("203.0.113.9", ["192.0.2.1"], ["10.0.0.0/8"], "203.0.113.9"),  # an untrusted peer's header is ignored
        ("10.0.0.5", ["192.0.2.1"], ["10.0.0.0/8"], "192.0.2.1"),  # through one trusted proxy
        ("10.0.0.5", ["6.6.6.6, 192.0.2.1, 10.0.0.9"], ["10.0.0.0/8"], "192.0.2.1"),  # a forged first hop is skipped
        ("10.0.0.5", ["6.6.6.6", "192.0.2.1"], ["10.0.0.0/8"], "192.0.2.1"),  # the header given twice
        ("10.0.0.5", [], ["10.0.0.0/8"], "10.0.0.5"),  # the proxy itself calling
        ("10.0.0.5", ["10.0.0.7"], ["10.0.0.0/8"], "10.0.0.7"),  # from inside the trusted network
        ("10.0.0.5", ["not-an-address"], ["10.0.0.0/8"], "10.0.0.5"),
        ("::1", ["2001:db8::7"], ["::1"], "2001:db8::7"),
    ],
)
def test_x_forwarded_for_is_read_from_the_right_and_only_through_trusted_proxies(peer, forwarded, trusted, client):
    assert client_address(connection(peer, forwarded), trusted) == client
