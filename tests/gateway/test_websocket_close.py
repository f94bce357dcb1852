"""A WebSocket client leaving while the job service is down or stuck: no traceback in the logs, and
the gateway stops watching for nobody. The gateway runs on uvicorn (the ASGI test transport has no
WebSockets) with every log record captured."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import uvicorn
import websockets

from beatflow_devtools.network import free_port
from beatflow_gateway.app import create_app
from beatflow_gateway.settings import GatewaySettings


@asynccontextmanager
async def gateway(job_service_address: str) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    """The gateway on uvicorn, its job services (generator and separator) at `job_service_address`."""
    port = free_port()
    settings = GatewaySettings(
        vcs_address=f"127.0.0.1:{free_port()}",
        generator_address=job_service_address,
        separator_address=job_service_address,
    )
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None, log_level="debug")
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    while not server.started:
        assert not serving.done(), "the gateway did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/ws/jobs/{uuid.uuid4()}?token=not-checked-before-the-job-service", server
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)


@asynccontextmanager
async def stuck_job_service() -> AsyncIterator[str]:
    """A job service that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for writer in held:
            writer.close()
        server.close()


async def eventually(condition: Callable[[], bool], seconds: float) -> bool:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.exc_info or "Traceback" in record.getMessage()]


async def test_a_client_leaving_while_the_job_service_is_down_leaves_no_traceback(caplog, monkeypatch):
    # The watch gives up on the job service after one short retry (instead of about 16 s) ...
    monkeypatch.setattr("beatflow_sdk.watching.REWATCH_DELAYS_SECONDS", (0.5,))
    caplog.set_level(logging.DEBUG)
    async with gateway(f"127.0.0.1:{free_port()}") as (url, server):
        async with websockets.connect(url) as socket:
            await socket.close()  # ... and the client has left before it does
        await asyncio.sleep(1.5)  # past the retry, when a careless handler closes a socket already gone
        assert tracebacks(caplog) == []
        assert await eventually(lambda: not server.server_state.tasks, 5), "the socket's handler ended"
    assert tracebacks(caplog) == []


async def test_a_client_leaving_while_the_job_service_hangs_stops_the_watch(caplog):
    caplog.set_level(logging.DEBUG)
    async with stuck_job_service() as address, gateway(address) as (url, server):
        async with websockets.connect(url) as socket:
            await asyncio.sleep(0.3)  # the watch is waiting on the job service
            assert server.server_state.tasks, "the handler is watching"
            await socket.close()
        assert await eventually(lambda: not server.server_state.tasks, 3), "the watch for nobody was dropped"
    assert tracebacks(caplog) == []


async def test_the_client_still_hears_why_when_it_stays(monkeypatch):
    monkeypatch.setattr("beatflow_sdk.watching.REWATCH_DELAYS_SECONDS", (0.1,))
    async with gateway(f"127.0.0.1:{free_port()}") as (url, _), websockets.connect(url) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd.code == 1013, "a backend is unavailable: try again later"
