"""`make run`'s command end to end: the whole stack starts with two generator processes, serves a
real request through the gateway, restarts a service killed with SIGKILL (logged, healthy again
over gRPC health), and stops cleanly on Ctrl-C, leaving no service process behind."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.processes import running
from beatflow_devtools.stack import pid_file, serving

pytestmark = pytest.mark.slow


def _read_until(process: subprocess.Popen, lines: list[str], text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        assert process.poll() is None, "".join(lines)
        assert time.monotonic() < deadline, f"no {text!r} in time:\n" + "".join(lines)
        lines.append(process.stdout.readline())


def test_run_serves_restarts_a_killed_service_and_stops_on_ctrl_c():
    base = reachable_tempdir("beatflow-make-run-")
    home = base / "home"
    gateway_port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beatflow_devtools.stack",
            "--home",
            str(home),
            "--postgres-port",
            str(free_port()),
            "--gateway-port",
            str(gateway_port),
            "--scale",
            "generator=2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines: list[str] = []
        _read_until(process, lines, "Press Ctrl-C", timeout=180)
        output = "".join(lines)
        assert f"http://127.0.0.1:{gateway_port}" in output and "curl" in output
        ports = dict(re.findall(r"^  (\S+) +grpc://127\.0\.0\.1:(\d+)$", output, re.MULTILINE))
        assert {"generator", "generator-2", "separator", "vcs"} <= set(ports)
        pids = {name: int(pid_file(home, name).read_text()) for name in ("gateway", *ports)}
        api = f"http://127.0.0.1:{gateway_port}"
        assert httpx.get(f"{api}/health", timeout=10).json()["status"] == "healthy"
        registered = httpx.post(
            f"{api}/api/auth/register",
            timeout=30,
            json={"username": "runner", "email": "runner@example.com", "password": "a long password"},
        )
        assert registered.status_code == 201, registered.text

        os.kill(pids["generator"], signal.SIGKILL)
        _read_until(process, lines, "generator (pid", timeout=60)
        assert f"generator (pid {pids['generator']}) killed by SIGKILL; restart 1 in 0.5 s" in lines[-1]
        _read_until(process, lines, "serving again", timeout=120)
        restarted = int(pid_file(home, "generator").read_text())
        assert restarted != pids["generator"] and f"generator (pid {restarted}) serving again" in lines[-1]
        assert asyncio.run(serving("generator", int(ports["generator"])))

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{api}/health", timeout=2)
        for pid in [*pids.values(), restarted]:
            assert not running(pid), f"process {pid} outlived make run"
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(base, ignore_errors=True)
