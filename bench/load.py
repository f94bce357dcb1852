"""Load figures, in three phases, each on a stack or PostgreSQL of its own:
- `restart`: on a stack under `make run`'s command, how long a service killed with SIGKILL takes to
  serve again (`supervised_restart_s`);
- `fair`: fair claims under a flood of one user's jobs (bench/_fair_queue.py, `fair_light_user_wait_s_p95`);
- `locust`: the whole stack as real processes on 127.0.0.1 under a locust run with a mix of reads,
  commits and generation submits (bench/_locustfile.py): throughput, p50/p99 latency and error rate
  overall and per request, and each service's memory before and after.

A phase that fails is reported, not raised: `<phase>_phase_error` names the error, and the figures
it measured before failing are kept. `python -m bench.load locust` runs some phases alone and prints
their figures (without writing bench/results/load.json).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil
import psycopg

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.stack import LocalStack, pid_file, serving
from bench._fair_queue import fair_scheduling

USERS = 32
SPAWN_RATE = 8
RUN_SECONDS = 60  # of the mix, which starts once every user is set up
SETUP_ALLOWANCE_SECONDS = 180  # for the users' sign-ups and uploads before it
LOCUSTFILE = Path(__file__).with_name("_locustfile.py")
RESTARTED_SERVICES = ("gateway", "generator", "separator", "vcs")
# An HTTP status in locust's failure messages ("504 Server Error: Gateway Timeout for url: ...").
_FAILURE_STATUS = re.compile(r"\b([1-5]\d\d) (?:Client|Server) Error\b")

Figures = dict[str, float | str]


class LocustRunFailed(RuntimeError):
    """The locust run made no request (every user failed to set up, say)."""


def _rss_mb(stack: LocalStack) -> dict[str, float]:
    return {s.name: round(psutil.Process(s.process.pid).memory_info().rss / 2**20, 1) for s in stack.services}


def _locust(url: str, csv_prefix: Path, run_seconds: int) -> str:
    """Runs the mix for `run_seconds` once every user is set up; returns locust's output."""
    finished = subprocess.run(
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
            f"{run_seconds + SETUP_ALLOWANCE_SECONDS}s",
            "--mix-seconds",
            str(run_seconds),
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
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    print(finished.stdout, end="", flush=True)
    return finished.stdout


def _number(text: str) -> float | None:
    """A number of locust's CSV; None for its "N/A" (a percentile of no requests)."""
    try:
        return float(text)
    except ValueError:
        return None


def _figures(stats_csv: Path) -> dict[str, float]:
    """Throughput, p50/p99 and error rate per request name and overall ("all") from locust's stats;
    a percentile locust could not give (no requests) is left out."""
    figures: dict[str, float] = {}
    with stats_csv.open() as rows:
        for row in csv.DictReader(rows):
            count = int(row["Request Count"])
            key = "all" if row["Name"] == "Aggregated" else row["Type"].lower() + "_" + _slug(row["Name"])
            figures[f"{key}_requests_per_s"] = round(float(row["Requests/s"]), 1)
            for percentile in ("50", "99"):
                value = _number(row[f"{percentile}%"])
                if value is not None:
                    figures[f"{key}_p{percentile}_ms"] = value
            figures[f"{key}_error_rate"] = round(int(row["Failure Count"]) / count, 4) if count else 0.0
            if key == "all":
                figures["all_requests"] = count
    return figures


def _failures_by_status(failures_csv: Path) -> dict[str, float]:
    """Failed requests per HTTP status (`all_failures_http_504`), or without one (`all_failures_other`:
    a connection refused, a timeout of the client)."""
    counts: Counter[str] = Counter()
    with failures_csv.open() as rows:
        for row in csv.DictReader(rows):
            status = _FAILURE_STATUS.search(row["Error"])
            name = f"all_failures_http_{status.group(1)}" if status else "all_failures_other"
            counts[name] += int(row["Occurrences"])
    return dict(counts)


def _exceptions(exceptions_csv: Path) -> tuple[int, str]:
    """How many exceptions the users raised (in their setup or their tasks) and the commonest message."""
    with exceptions_csv.open() as rows:
        found = [(int(row["Count"]), row["Message"]) for row in csv.DictReader(rows)]
    if not found:
        return 0, ""
    return sum(count for count, _ in found), max(found)[1]


def _slug(name: str) -> str:
    path = name.split(" ", 1)[-1]
    return path.strip("/").replace("/", "_").replace("{id}", "id").replace("-", "_")


def _job_counts(dsn: str) -> dict[str, float]:
    with psycopg.connect(dsn) as db:
        rows = dict(db.execute("SELECT state, count(*) FROM jobs.jobs GROUP BY state").fetchall())
    return {f"generation_jobs_{state}": rows.get(state, 0) for state in ("succeeded", "queued", "running", "failed")}


def locust_mix(run_seconds: int = RUN_SECONDS, figures: Figures | None = None) -> Figures:
    """The load mix on a fresh stack; fills `figures` as it measures (what it got survives a failure)."""
    figures = {} if figures is None else figures
    figures |= {"users": USERS, "run_seconds": run_seconds}
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
        output = _locust(stack.url("gateway"), base / "locust", run_seconds)
        after = _rss_mb(stack)
        set_up = re.search(r"all \d+ users set up after ([\d.]+) s", output)
        if set_up:
            figures["locust_setup_s"] = float(set_up.group(1))
        for name in before:
            figures[f"memory_{name}_before_mb"] = before[name]
            figures[f"memory_{name}_after_mb"] = after[name]
        figures |= _figures(base / "locust_stats.csv")
        figures |= _failures_by_status(base / "locust_failures.csv")
        exceptions, commonest = _exceptions(base / "locust_exceptions.csv")
        figures["locust_user_exceptions"] = exceptions
        figures |= _job_counts(dsn)
        if not figures.get("all_requests"):
            raise LocustRunFailed(
                f"no request was made (the mix starts once all {USERS} users are set up, within"
                f" {SETUP_ALLOWANCE_SECONDS} s); the users raised {exceptions} exceptions, most often: {commonest!r}"
            )
        return figures
    finally:
        stack.stop()
        shutil.rmtree(base, ignore_errors=True)


def supervised_restart(services: Sequence[str] = RESTARTED_SERVICES, figures: Figures | None = None) -> Figures:
    """Starts the stack with `make run`'s command, kills each service in turn with SIGKILL and times
    it until it answers its health check again: `supervised_restart_s_<service>`, their median
    `supervised_restart_s` and their maximum. Each is a first restart (0.5 s of backoff included).
    Fills `figures` as it measures (what it got survives a failure)."""
    figures = {} if figures is None else figures
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
        restarts = []
        for name in services:
            killed = int(pid_file(home, name).read_text())
            started = time.monotonic()
            os.kill(killed, signal.SIGKILL)
            _wait(functools.partial(_serving_again, home, name, killed, ports[name]), timeout=120)
            restarts.append(round(time.monotonic() - started, 2))
            figures[f"supervised_restart_s_{name}"] = restarts[-1]
            if f"{name} (pid {killed}) killed by SIGKILL; restart 1 " not in log.read_text():
                raise RuntimeError(f"the restart of {name} was not logged:\n{log.read_text()}")
        figures["supervised_restart_s"] = round(statistics.median(restarts), 2)
        figures["supervised_restart_s_max"] = max(restarts)
        return figures
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def _serving_again(home: Path, name: str, killed: int, port: int) -> bool:
    return int(pid_file(home, name).read_text()) != killed and asyncio.run(serving(name, port))


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout} s")
        time.sleep(0.05)


# Phase name -> what runs it (only locust's takes the run length), in the order `run` runs them; each
# phase starts a stack or a PostgreSQL of its own and stops it before the next phase starts.
PHASES: dict[str, Callable[[int, Figures], Figures]] = {
    "restart": lambda run_seconds, figures: supervised_restart(figures=figures),
    "fair": lambda run_seconds, figures: fair_scheduling(figures),
    "locust": locust_mix,
}


def run(run_seconds: int = RUN_SECONDS, phases: Sequence[str] = tuple(PHASES)) -> Figures:
    """Runs `phases` in turn. A phase that raises is reported as `<phase>_phase_error` (also on
    stderr) beside the figures it got; the next phase still runs."""
    figures: Figures = {}
    for phase in phases:
        try:
            PHASES[phase](run_seconds, figures)
        except Exception as error:
            figures[f"{phase}_phase_error"] = f"{type(error).__name__}: {error}"
            print(f"load phase {phase!r} failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="Runs phases of the load area alone and prints their figures.")
    parser.add_argument("phases", nargs="*", help=f"of {', '.join(PHASES)} (default: all, in that order)")
    parser.add_argument("--run-seconds", type=int, default=RUN_SECONDS, help="length of the locust run")
    args = parser.parse_args()
    unknown = sorted(set(args.phases) - set(PHASES))
    if unknown:
        parser.error(f"no such phase: {', '.join(unknown)}")
    print(json.dumps(run(args.run_seconds, args.phases or tuple(PHASES)), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
