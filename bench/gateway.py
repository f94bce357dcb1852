"""Gateway figures: latency (median, p99) and throughput of GET repository and GET history (a page of 50
commits of 200) through the REST gateway and straight at the same gRPC methods, driven by one Python
async load generator (16 concurrent keep-alive callers per path, one event loop; REST and gRPC turns of
2 s interleaved, 4 each, after a discarded warm-up turn of each: connections, first calls), all on
127.0.0.1 with the whole stack running as real processes (2 cores shared with the load generator; the
services log at WARNING), and the CPU time per request of the process each path calls
(`*_server_cpu_us_per_request`: the gateway's for REST, vcs's for gRPC), which, unlike a latency, hardly
moves with the machine's other load. Also the number of hand-written gateway route handlers (the rest are transcoded
from the protos' google.api.http rules), the studio page's weight on its first load
(`studio_first_load_kb`), and the machine's 1-minute load average before and after (`load_average_1m_*`).

Reading the figures: the load is a closed loop, so a latency is also the time a request waits for the other
15 callers' work on the 2 cores; a p99 is the worst of a few thousand requests and moves with whatever else
the machine runs. The gRPC path's client (grpc.aio, in the load generator) costs more CPU per call than the
REST path's raw HTTP/1.1 client, on the same 2 cores: that slows the gRPC path a little, so the ratios
flatter the gateway slightly.

`python -m bench gateway` writes them to bench/results/gateway.json.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import httpx
import psutil

from beatflow.vcs.v1 import repositories_pb2, repositories_pb2_grpc, version_control_pb2_grpc
from beatflow.vcs.v1 import version_control_pb2 as vc
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.stack import LocalStack
from tests.audio import tone

CONNECTIONS = 16
# Each path is loaded in ROUNDS turns of SECONDS, the REST and the gRPC turns interleaved, so that the
# machine's other load weighs on both alike (the ratios compare latencies from the same minutes).
ROUNDS = 4
SECONDS = 2
WARM_UP_SECONDS = 0.5
HISTORY_COMMITS = 200
HISTORY_PAGE = 50
ROUTES = Path(__file__).resolve().parents[1] / "services" / "gateway" / "beatflow_gateway" / "routes"


class _KeepAlive:
    """One HTTP/1.1 keep-alive connection: GET and read the whole body (the gateway always sends Content-Length).
    Lighter than a general client, so that the REST path is not charged for the client's own work."""

    def __init__(self, base_url: str, headers: dict[str, str]):
        self._address = urlsplit(base_url)
        self._headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> bytes:
        try:
            head, reader = await self._send(path)
        except asyncio.IncompleteReadError as closed:
            if closed.partial:
                raise
            self.close()  # the server closed a connection left idle (keep-alive timeout): open another
            head, reader = await self._send(path)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if length is None:
            raise RuntimeError("a response without Content-Length")
        return await reader.readexactly(int(length.group(1)))

    async def _send(self, path: str) -> tuple[bytes, asyncio.StreamReader]:
        """Sends the request; its response head and the stream its body follows on."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._address.hostname, self._address.port)
        reader, writer = self._streams
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self._address.netloc}\r\n{self._headers}\r\n".encode())
        return await reader.readuntil(b"\r\n\r\n"), reader

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def _turn(
    calls: list[Callable[[], Awaitable[object]]], latencies: list[float], seconds: float = SECONDS
) -> float:
    """Each of the callers (one per connection) calls in a loop for `seconds`; adds every latency; the seconds taken."""
    deadline = time.perf_counter() + seconds

    async def caller(call: Callable[[], Awaitable[object]]) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(caller(call) for call in calls))
    return time.perf_counter() - started


async def _compare(
    paths: dict[str, list[Callable[[], Awaitable[object]]]], servers: dict[str, psutil.Process]
) -> dict[str, dict[str, float]]:
    """Median, p99 and throughput of each path's callers, loaded in interleaved turns, and the CPU time its server
    (`servers[path]`, the process its callers call) spent per request during its turns: unlike latencies, hardly
    moved by what else the machine runs."""
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    seconds = dict.fromkeys(paths, 0.0)
    cpu_seconds = dict.fromkeys(paths, 0.0)
    for calls in paths.values():
        await _turn(calls, [], WARM_UP_SECONDS)
    for _ in range(ROUNDS):
        for name, calls in paths.items():
            before = _cpu_seconds(servers[name])
            seconds[name] += await _turn(calls, latencies[name])
            cpu_seconds[name] += _cpu_seconds(servers[name]) - before
    return {
        name: {
            "median_ms": round(statistics.median(values), 3),
            "p99_ms": round(statistics.quantiles(values, n=100)[-1], 3),
            "requests_per_s": round(len(values) / seconds[name], 1),
            "server_cpu_us_per_request": round(cpu_seconds[name] / len(values) * 1e6),
        }
        for name, values in latencies.items()
    }


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _pid(stack: LocalStack, service: str) -> int:
    return next(running.process.pid for running in stack.services if running.name == service)


def handwritten_handlers() -> int:
    """Route decorators in the gateway's hand-written route modules (53 before the routes came from the protos)."""
    return sum(len(re.findall(r"^@router\.", module.read_text(), re.M)) for module in ROUTES.glob("*.py"))


async def _measure(stack: LocalStack) -> dict[str, float]:
    api = stack.url("gateway")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        registered = (
            await http.post(
                "/api/auth/register",
                json={"username": "bench", "email": "bench@example.com", "password": "bench password"},
            )
        ).json()
        token = registered["tokens"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        repo_id = (await http.post("/api/repositories/create", json={"name": "bench"}, headers=headers)).json()["id"]
        blob_id = (
            await http.post("/api/audio/upload", files={"file": ("t.wav", tone(0.5), "audio/wav")}, headers=headers)
        ).json()["blob_id"]
    vcs_address = stack.url("vcs").removeprefix("grpc://")
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(vcs_address) as channel:
        versions = version_control_pb2_grpc.VersionControlServiceStub(channel)
        repos = repositories_pb2_grpc.RepositoryServiceStub(channel)
        head = ""
        for index in range(HISTORY_COMMITS):
            request = vc.CreateCommitRequest(
                repo_id=repo_id,
                parent_commit_id=head,
                message=f"take {index}",
                stems=[vc.StemInput(name="loop", blob_id=blob_id)],
            )
            head = (await versions.CreateCommit(request, metadata=metadata)).commit.commit_id
        get_repository = repositories_pb2.GetRepositoryRequest(repo_id=repo_id)
        get_history = vc.GetHistoryRequest(repo_id=repo_id, page_size=HISTORY_PAGE)
        connections = [_KeepAlive(api, {"Authorization": f"Bearer {token}"}) for _ in range(CONNECTIONS)]
        try:
            repository_path, history_path = f"/api/repositories/{repo_id}", f"/api/vcs/history/{repo_id}"
            history_path += f"?page_size={HISTORY_PAGE}"
            gateway, vcs = (psutil.Process(_pid(stack, name)) for name in ("gateway", "vcs"))
            results = await _compare(
                {
                    "gateway_get_repository": [lambda c=c: c.get(repository_path) for c in connections],
                    "grpc_get_repository": [lambda: repos.GetRepository(get_repository, metadata=metadata)]
                    * CONNECTIONS,
                },
                {"gateway_get_repository": gateway, "grpc_get_repository": vcs},
            ) | await _compare(
                {
                    "gateway_get_history": [lambda c=c: c.get(history_path) for c in connections],
                    "grpc_get_history": [lambda: versions.GetHistory(get_history, metadata=metadata)] * CONNECTIONS,
                },
                {"gateway_get_history": gateway, "grpc_get_history": vcs},
            )
        finally:
            for connection in connections:
                connection.close()
    figures = {f"{name}_{key}": value for name, result in results.items() for key, value in result.items()}
    for operation in ("get_repository", "get_history"):
        ratio = results[f"gateway_{operation}"]["median_ms"] / results[f"grpc_{operation}"]["median_ms"]
        figures[f"gateway_over_grpc_median_ratio_{operation}"] = round(ratio, 2)
    figures["gateway_p99_ms"] = max(figures["gateway_get_repository_p99_ms"], figures["gateway_get_history_p99_ms"])
    figures["gateway_handwritten_handlers"] = handwritten_handlers()
    return figures


def run() -> dict[str, float]:
    base = reachable_tempdir("beatflow-bench-gateway-")
    stack = LocalStack(base / "home", free_port())

    async def measure() -> dict[str, float]:
        dsn = await stack.start_database()
        stack.start_services(dsn, gateway_port=free_port(), settings_env={"LOG_LEVEL": "WARNING"})
        await stack.wait_until_serving()
        return await _measure(stack)

    # Latencies here depend on what else the machine runs: its load goes with them.
    load_before = os.getloadavg()[0]
    try:
        figures = asyncio.run(measure())
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)
    loads = {"load_average_1m_before": round(load_before, 2), "load_average_1m_after": round(os.getloadavg()[0], 2)}
    return {**figures, **loads, "studio_first_load_kb": studio_first_load_kb()}


# ----- BeatFlow Studio: page weight ---------------------------------------------------------------

STUDIO_PAGE = "/studio/"
CHROMIUM = "/usr/bin/chromium"


def studio_first_load_kb() -> float:
    """Kilobytes on the wire (compressed bodies plus headers) of every response of the studio's first load in
    Chromium: cold cache, signed out, until the network is idle; that is the page, its stylesheet and every
    module the app imports (views, player, panels). Served by the gateway app in this process (the studio's
    files need no backend)."""
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    from beatflow_gateway.app import create_app
    from beatflow_gateway.settings import GatewaySettings

    down = f"127.0.0.1:{free_port()}"
    settings = GatewaySettings(vcs_address=down, generator_address=down, separator_address=down)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                finished = []
                page.on("requestfinished", lambda request: finished.append(request))
                page.goto(f"http://127.0.0.1:{port}{STUDIO_PAGE}", wait_until="networkidle")
                sizes = [request.sizes() for request in finished]
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return round(sum(size["responseBodySize"] + size["responseHeadersSize"] for size in sizes) / 1024, 1)
