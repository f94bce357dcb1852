"""`make run`'s command end to end: the whole stack starts, serves a real request through the
gateway, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir

pytestmark = pytest.mark.slow


def test_run_serves_requests_and_stops_on_ctrl_c():
    base = reachable_tempdir("beatflow-make-run-")
    gateway_port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beatflow_devtools.stack",
            "--home",
            str(base / "home"),
            "--postgres-port",
            str(free_port()),
            "--gateway-port",
            str(gateway_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        lines = []
        while not any("Press Ctrl-C" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "the stack did not come up in time"
            lines.append(process.stdout.readline())
        output = "".join(lines)
        assert f"http://127.0.0.1:{gateway_port}" in output and "curl" in output
        api = f"http://127.0.0.1:{gateway_port}"
        assert httpx.get(f"{api}/health", timeout=10).json()["status"] == "healthy"
        registered = httpx.post(
            f"{api}/api/auth/register",
            timeout=30,
            json={"username": "runner", "email": "runner@example.com", "password": "a long password"},
        )
        assert registered.status_code == 201, registered.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{api}/health", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(base, ignore_errors=True)
