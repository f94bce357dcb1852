"""Load figures: the whole stack as real processes on 127.0.0.1 under a locust run with a mix
of reads, commits and generation submits (bench/_locustfile.py): throughput, p50/p99 latency
and error rate overall and per request, and each service's memory before and after. Also, on a
stack of its own under `make run`'s command, how long a service killed with SIGKILL takes to
serve again (`supervised_restart_s`). And fair claims under a flood of one user's jobs
(bench/_fair_queue.py, `fair_light_user_wait_s_p95`).
"""

from __future__ import annotations

import asyncio
import csv
import functools
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.stack import LocalStack, pid_file, serving
from bench._fair_queue import fair_scheduling

USERS = 32
SPAWN_RATE = 8
RUN_SECONDS = 60
LOCUSTFILE = Path(__file__).with_name("_locustfile.py")


def _rss_mb(stack: LocalStack) -> dict[str, float]:
    return {s.name: round(psutil.Process(s.process.pid).memory_info().rss / 2**20, 1) for s in stack.services}


def _locust(url: str, csv_prefix: Path, run_seconds: int) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(USERS),
            "--spawn-rate",
            str(SPAWN_RATE),
            "--run-time",
            f"{run_seconds}s",
            "--host",
            url,
            "--csv",
            str(csv_prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        check=False,  # locust exits 1 when any request failed; the error rate says how many
        cwd=LOCUSTFILE.parent.parent,
    )


def _figures(stats_csv: Path) -> dict[str, float]:
    figures: dict[str, float] = {}
    with stats_csv.open() as rows:
        for row in csv.DictReader(rows):
            count = int(row["Request Count"])
            key = "all" if row["Name"] == "Aggregated" else row["Type"].lower() + "_" + _slug(row["Name"])
            figures[f"{key}_requests_per_s"] = round(float(row["Requests/s"]), 1)
            figures[f"{key}_p50_ms"] = float(row["50%"])
            figures[f"{key}_p99_ms"] = float(row["99%"])
            figures[f"{key}_error_rate"] = round(int(row["Failure Count"]) / count, 4) if count else 0.0
            if key == "all":
                figures["all_requests"] = count
    return figures


def _slug(name: str) -> str:
    path = name.split(" ", 1)[-1]
    return path.strip("/").replace("/", "_").replace("{id}", "id").replace("-", "_")


def _job_counts(dsn: str) -> dict[str, float]:
    with psycopg.connect(dsn) as db:
        rows = dict(db.execute("SELECT state, count(*) FROM jobs.jobs GROUP BY state").fetchall())
    return {f"generation_jobs_{state}": rows.get(state, 0) for state in ("succeeded", "queued", "running", "failed")}


def run(run_seconds: int = RUN_SECONDS) -> dict[str, float]:
    restart_figures = supervised_restart()  # first: the load run leaves the generator a queue to render
    fair_figures = fair_scheduling()  # likewise, on a PostgreSQL of its own
    base = reachable_tempdir("beatflow-bench-load-")
    stack = LocalStack(base / "home", free_port(), log_dir=base / "logs")

    async def start() -> str:
        dsn = await stack.start_database()
        stack.start_services(dsn, gateway_port=free_port(), settings_env={"LOG_LEVEL": "WARNING"})
        await stack.wait_until_serving()
        return dsn

    try:
        dsn = asyncio.run(start())
        before = _rss_mb(stack)
        _locust(stack.url("gateway"), base / "locust", run_seconds)
        after = _rss_mb(stack)
        figures = {
            "users": USERS,
            "run_seconds": run_seconds,
            **restart_figures,
            **fair_figures,
            **_figures(base / "locust_stats.csv"),
            **_job_counts(dsn),
        }
        for name in before:
            figures[f"memory_{name}_before_mb"] = before[name]
            figures[f"memory_{name}_after_mb"] = after[name]
        return figures
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)


def supervised_restart(services: tuple[str, ...] = ("gateway", "generator", "separator", "vcs")) -> dict[str, float]:
    """Starts the stack with `make run`'s command, kills each service in turn with SIGKILL and times
    it until it answers its health check again: `supervised_restart_s_<service>`, their median
    `supervised_restart_s` and their maximum. Each is a first restart (0.5 s of backoff included)."""
    base = reachable_tempdir("beatflow-bench-restart-")
    home, log = base / "home", base / "make-run.log"
    command = [sys.executable, "-m", "beatflow_devtools.stack", "--home", str(home)]
    command += ["--postgres-port", str(free_port()), "--gateway-port", str(free_port())]
    with log.open("w") as output:
        launcher = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: "Press Ctrl-C" in log.read_text() or launcher.poll() is not None, timeout=300)
        if launcher.poll() is not None:
            raise RuntimeError(f"the stack did not start:\n{log.read_text()}")
        ports = {
            name: int(port) for name, port in re.findall(r"^  (\S+) +\w+://127\.0\.0\.1:(\d+)$", log.read_text(), re.M)
        }
        figures = {}
        for name in services:
            killed = int(pid_file(home, name).read_text())
            started = time.monotonic()
            os.kill(killed, signal.SIGKILL)
            _wait(functools.partial(_serving_again, home, name, killed, ports[name]), timeout=120)
            figures[f"supervised_restart_s_{name}"] = round(time.monotonic() - started, 2)
            if f"{name} (pid {killed}) killed by SIGKILL; restart 1 " not in log.read_text():
                raise RuntimeError(f"the restart of {name} was not logged:\n{log.read_text()}")
        restarts = [figures[f"supervised_restart_s_{name}"] for name in services]
        figures["supervised_restart_s"] = round(statistics.median(restarts), 2)
        figures["supervised_restart_s_max"] = max(restarts)
        return figures
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def _serving_again(home: Path, name: str, killed: int, port: int) -> bool:
    return int(pid_file(home, name).read_text()) != killed and asyncio.run(serving(name, port))


def _wait(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout} s")
        time.sleep(0.05)
