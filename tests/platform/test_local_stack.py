"""`make run`'s launcher: a PostgreSQL cluster in a project folder whose data survives restarts."""

from __future__ import annotations

import shutil
import subprocess
import sys

import psycopg
import pytest

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.stack import LocalStack


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
