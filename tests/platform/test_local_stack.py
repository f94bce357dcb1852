"""`make run`'s launcher: a PostgreSQL cluster in a project folder whose data survives restarts."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.processes import running
from beatflow_devtools.stack import LocalStack, declared_services, pid_file


@pytest.fixture
def home():
    path = reachable_tempdir("beatflow-stack-")
    yield path / "home"
    shutil.rmtree(path, ignore_errors=True)


async def test_second_start_reuses_the_data(home):
    port = free_port()
    first = LocalStack(home, port)
    dsn = await first.start_database()
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('first run')")
    finally:
        first.stop()
    assert not first.postgres.running

    second = LocalStack(home, port)
    dsn = await second.start_database()
    try:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT note FROM kept").fetchall() == [("first run",)]
    finally:
        second.stop()


def test_command_starts_and_stops_cleanly(home):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "beatflow_devtools.stack",
            "--home",
            str(home),
            "--postgres-port",
            str(free_port()),
            "--exit-when-ready",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "BeatFlow is running" in completed.stdout
    assert "stopping" in completed.stdout
    assert not LocalStack(home, 0).postgres.running


def test_ctrl_c_while_services_start_stops_them_all(home):
    """The services run in process groups of their own, so the terminal's Ctrl-C reaches only the
    launcher: it must not wait for them to come up, and none may be left running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "beatflow_devtools.stack", "--home", str(home), "--postgres-port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        names = [entry.name for entry in declared_services()]
        deadline = time.monotonic() + 120
        while not all(pid_file(home, name).exists() for name in names):
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
            time.sleep(0.05)
        pids = [int(pid_file(home, name).read_text()) for name in names]
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output
        assert "stopping" in output and "BeatFlow is running" not in output
        assert not any(running(pid) for pid in pids)
        assert not LocalStack(home, 0).postgres.running
    finally:
        if process.poll() is None:
            process.kill()
