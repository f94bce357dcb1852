"""`make run`'s supervision on real processes: a small gRPC service killed with SIGKILL is serving
again after the backoff, every restart is logged, the delay doubles while it keeps exiting and
starts over once it has served a while, and nothing a child started outlives it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest

from beatflow_devtools.network import free_port
from beatflow_devtools.processes import running
from beatflow_devtools.stack import serving
from beatflow_devtools.supervisor import Backoff, reap, spawn, stop_all, supervise

# A real gRPC server with the standard health service, SERVING until it is stopped.
HEALTH_SERVER = """
import asyncio, sys
import grpc
from grpc_health.v1 import health, health_pb2_grpc

async def main():
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{sys.argv[1]}")
    await server.start()
    await server.wait_for_termination()

asyncio.run(main())
"""

# Starts a grandchild (its pid written to argv[1]) and ignores SIGTERM, as a stuck service would.
PARENT_OF_SLEEPER = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sleeper = subprocess.Popen(["sleep", "300"])
open(sys.argv[1], "w").write(str(sleeper.pid))
time.sleep(300)
"""


@dataclass
class HealthService:
    name: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen = field(init=False)

    def __post_init__(self) -> None:
        self.respawn()

    def respawn(self) -> None:
        self.process = spawn([sys.executable, "-c", HEALTH_SERVER, str(self.port)], os.environ)

    async def serving(self) -> bool:
        return await serving(self.name, self.port)


@dataclass
class Crasher:
    """Exits with code 3 as soon as it starts."""

    name: str = "crasher"
    process: subprocess.Popen = field(init=False)

    def __post_init__(self) -> None:
        self.respawn()

    def respawn(self) -> None:
        self.process = spawn([sys.executable, "-I", "-S", "-c", "raise SystemExit(3)"], os.environ)

    async def serving(self) -> bool:
        return False


def restarts_logged(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "beatflow.supervisor" and "; restart " in r.getMessage()]


async def until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_killed_service_serves_again_with_backoff_that_resets(caplog):
    caplog.set_level(logging.INFO, logger="beatflow.supervisor")
    service = HealthService("health")
    backoff = Backoff(initial_s=0.2, factor=2.0, max_s=5.0, reset_after_s=3.0)
    await until(service.serving)
    supervision = asyncio.create_task(supervise(service, backoff))
    try:
        delays = []
        # Two kills in a row, then one after the service has served for longer than reset_after_s.
        for pause in (0.0, 0.0, backoff.reset_after_s + 0.5):
            await asyncio.sleep(pause)
            killed = service.process.pid
            os.kill(killed, signal.SIGKILL)
            await until(lambda killed=killed: _logged_serving_again(caplog, service, killed))
            assert await service.serving()
            record = restarts_logged(caplog)[-1]
            assert record.levelno == logging.WARNING
            assert f"health (pid {killed}) killed by SIGKILL; restart" in record.getMessage()
            delays.append((record.args[3], record.args[4]))
        assert delays == [(1, 0.2), (2, 0.4), (1, 0.2)]
    finally:
        supervision.cancel()
        stop_all([service.process], grace_s=5)


async def _logged_serving_again(caplog, service: HealthService, killed: int) -> bool:
    """The supervisor has logged that a process other than `killed` serves."""
    pid = service.process.pid
    return pid != killed and any(r.getMessage().startswith(f"health (pid {pid}) serving again") for r in caplog.records)


async def test_crash_loop_is_logged_with_growing_delays_up_to_the_cap(caplog):
    caplog.set_level(logging.INFO, logger="beatflow.supervisor")
    crasher = Crasher()
    backoff = Backoff(initial_s=0.05, factor=2.0, max_s=0.2, crash_loop_after=3)
    supervision = asyncio.create_task(supervise(crasher, backoff))
    try:

        async def five_restarts() -> bool:
            return len(restarts_logged(caplog)) >= 5

        await until(five_restarts)
    finally:
        supervision.cancel()
        stop_all([crasher.process], grace_s=5)
    records = restarts_logged(caplog)[:5]
    assert all("crasher" in r.getMessage() and "exited with code 3" in r.getMessage() for r in records)
    assert [(r.args[3], r.args[4]) for r in records] == [(1, 0.05), (2, 0.1), (3, 0.2), (4, 0.2), (5, 0.2)]
    assert [r.levelno for r in records] == [logging.WARNING] * 2 + [logging.ERROR] * 3
    assert "crash loop" in records[2].getMessage() and "crash loop" not in records[1].getMessage()


@pytest.mark.parametrize("how", ["stop_all", "crash"])
def test_nothing_a_child_started_outlives_it(tmp_path, how):
    """`stop_all` ends a child that ignores SIGTERM and its own child; so does `reap` after a crash."""
    pid_path = tmp_path / "sleeper.pid"
    child = spawn([sys.executable, "-c", PARENT_OF_SLEEPER, str(pid_path)], os.environ)
    deadline = time.monotonic() + 30
    while not pid_path.exists() or not pid_path.read_text():
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.05)
    sleeper = int(pid_path.read_text())
    assert running(sleeper)
    if how == "stop_all":
        started = time.monotonic()
        stop_all([child], grace_s=0.5)
        assert time.monotonic() - started < 5
    else:
        os.kill(child.pid, signal.SIGKILL)
        assert reap(child) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while running(sleeper):
        assert time.monotonic() < deadline, "the grandchild outlived its parent"
        time.sleep(0.05)
    assert child.returncode == -signal.SIGKILL
