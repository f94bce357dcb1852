"""Load figures: the whole stack as real processes on 127.0.0.1 under a locust run with a mix
of reads, commits and generation submits (bench/_locustfile.py): throughput, p50/p99 latency
and error rate overall and per request, and each service's memory before and after.
"""

from __future__ import annotations

import asyncio
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.stack import LocalStack

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
