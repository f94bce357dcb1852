"""Gateway figures: latency (median, p99) and throughput of GET repository and GET history through
the REST gateway, measured with wrk, against the same gRPC methods called directly, all on
127.0.0.1 with the whole stack running as real processes (2 cores shared with the load tools).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import time

import grpc
import httpx

from beatflow.vcs.v1 import repositories_pb2, repositories_pb2_grpc, version_control_pb2_grpc
from beatflow.vcs.v1 import version_control_pb2 as vc
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.stack import LocalStack
from tests.audio import tone

CONNECTIONS = 16
SECONDS = 8
HISTORY_COMMITS = 200
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, token: str) -> dict[str, float]:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-H", f"Authorization: Bearer {token}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE).groups()
        return float(value) * _UNITS[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "median_ms": round(latency("50"), 3),
        "p99_ms": round(latency("99"), 3),
        "requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), 1),
        "errors": int(errors.group(1)) if errors else 0,
    }


async def _grpc_load(call) -> dict[str, float]:
    """The same load shape as wrk (16 concurrent callers for SECONDS) straight at the gRPC method."""
    latencies: list[float] = []
    deadline = time.perf_counter() + SECONDS

    async def caller() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CONNECTIONS)))
    return {
        "median_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(statistics.quantiles(latencies, n=100)[-1], 3),
        "requests_per_s": round(len(latencies) / (time.perf_counter() - started), 1),
    }


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
        figures: dict[str, float] = {}
        gateway_repo = await asyncio.to_thread(_wrk, f"{api}/api/repositories/{repo_id}", token)
        gateway_history = await asyncio.to_thread(_wrk, f"{api}/api/vcs/history/{repo_id}?page_size=50", token)
        grpc_repo = await _grpc_load(
            lambda: repos.GetRepository(repositories_pb2.GetRepositoryRequest(repo_id=repo_id), metadata=metadata)
        )
        grpc_history = await _grpc_load(
            lambda: versions.GetHistory(vc.GetHistoryRequest(repo_id=repo_id, page_size=50), metadata=metadata)
        )
    for name, result in (
        ("gateway_get_repository", gateway_repo),
        ("gateway_get_history", gateway_history),
        ("grpc_get_repository", grpc_repo),
        ("grpc_get_history", grpc_history),
    ):
        for key, value in result.items():
            figures[f"{name}_{key}"] = value
    figures["gateway_over_grpc_median_ratio_get_repository"] = round(
        gateway_repo["median_ms"] / grpc_repo["median_ms"], 2
    )
    figures["gateway_over_grpc_median_ratio_get_history"] = round(
        gateway_history["median_ms"] / grpc_history["median_ms"], 2
    )
    figures["gateway_p99_ms"] = max(gateway_repo["p99_ms"], gateway_history["p99_ms"])
    return figures


def run() -> dict[str, float]:
    base = reachable_tempdir("beatflow-bench-gateway-")
    stack = LocalStack(base / "home", free_port())

    async def measure() -> dict[str, float]:
        dsn = await stack.start_database()
        stack.start_services(dsn, gateway_port=free_port(), settings_env={"LOG_LEVEL": "WARNING"})
        await stack.wait_until_serving()
        return await _measure(stack)

    try:
        return asyncio.run(measure())
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)
