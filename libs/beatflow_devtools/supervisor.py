"""Keeps `make run`'s services running: a process that exits is started again, after a delay that
doubles with each exit in a row, and every exit and recovery is logged.

Each child runs in its own process group (`spawn`), so that a terminal's Ctrl-C reaches only the
launcher, which then stops every child one way (SIGTERM, then SIGKILL after a grace period), and so
that whatever a child started (a FluidSynth render, say) is killed with it (`reap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Protocol

LOG = logging.getLogger("beatflow.supervisor")
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Backoff:
    """Restart n (1, 2, ...) of a child waits `initial_s * factor**(n-1)`, at most `max_s`. A child
    that served for `reset_after_s` before it exited counts as healthy: its next restart is number 1
    again. From restart `crash_loop_after` in a row on, each is logged as an error: a crash loop."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    reset_after_s: float = 60.0
    crash_loop_after: int = 5

    def delay_s(self, restart: int) -> float:
        return min(self.max_s, self.initial_s * self.factor ** (restart - 1))


class Child(Protocol):
    """A supervised process: its current process, how to start a new one, how to tell it serves."""

    name: str
    process: subprocess.Popen

    def respawn(self) -> None:
        """Starts a new process in place of the one that exited (sets `process`)."""

    async def serving(self) -> bool: ...


def spawn(command: list[str], env: Mapping[str, str], output: IO[bytes] | None = None) -> subprocess.Popen:
    """Starts `command` as the leader of a new process group; `output` takes its stdout and stderr
    (this terminal when None)."""
    stderr = subprocess.STDOUT if output else None
    return subprocess.Popen(command, env=dict(env), stdout=output, stderr=stderr, start_new_session=True)


def exited(process: subprocess.Popen) -> bool:
    """Whether `process` has exited, without reaping it: until it is reaped its pid, which is also
    its process group's id, cannot be given to another process, so the group can still be killed."""
    if process.returncode is not None:
        return True
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def reap(process: subprocess.Popen) -> int:
    """SIGKILL to whatever is left of the process group of `process` (dead or alive), then its exit
    status. Once reaped elsewhere (`poll`, `wait`), its group is left alone: its id may be reused."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def stop_all(processes: Iterable[subprocess.Popen], grace_s: float = 30.0) -> None:
    """SIGTERM to every running process; after at most `grace_s`, SIGKILL to all that their process
    groups still hold, so that nothing outlives the launcher."""
    processes = list(processes)
    for process in processes:
        if not exited(process):
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while not all(exited(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    for process in processes:
        reap(process)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


async def _exit_code(process: subprocess.Popen) -> int:
    while not exited(process):
        await asyncio.sleep(POLL_SECONDS)
    return reap(process)


async def _until_serving(child: Child, warn_after_s: float) -> float | None:
    """When the new process serves (time.monotonic()), or None when it exits before it does."""
    started = time.monotonic()
    warned = False
    while not exited(child.process):
        if await child.serving():
            return time.monotonic()
        if not warned and time.monotonic() - started > warn_after_s:
            LOG.warning(
                "%s (pid %d) is not serving %.0f s after its restart", child.name, child.process.pid, warn_after_s
            )
            warned = True
        await asyncio.sleep(POLL_SECONDS)
    return None


async def supervise(child: Child, backoff: Backoff = Backoff(), *, warn_after_s: float = 60.0) -> None:
    """Restarts `child` whenever its process exits, until cancelled. `child` is serving when called."""
    restarts = 0
    serving_since: float | None = time.monotonic()
    while True:
        returncode = await _exit_code(child.process)
        exited_at = time.monotonic()
        if serving_since is not None and exited_at - serving_since >= backoff.reset_after_s:
            restarts = 0
        restarts += 1
        delay = backoff.delay_s(restarts)
        crash_loop = restarts >= backoff.crash_loop_after
        LOG.log(
            logging.ERROR if crash_loop else logging.WARNING,
            "%s (pid %d) %s; restart %d in %.1f s%s",
            child.name,
            child.process.pid,
            describe_exit(returncode),
            restarts,
            delay,
            f" (crash loop: exit {restarts} in a row without {backoff.reset_after_s:.0f} s of serving between)"
            if crash_loop
            else "",
        )
        await asyncio.sleep(delay)
        child.respawn()
        serving_since = await _until_serving(child, warn_after_s)
        if serving_since is not None:
            LOG.info(
                "%s (pid %d) serving again, %.2f s after it exited",
                child.name,
                child.process.pid,
                serving_since - exited_at,
            )


async def supervise_all(children: Iterable[Child], backoff: Backoff = Backoff()) -> None:
    """Supervises every child until cancelled."""
    async with asyncio.TaskGroup() as group:
        for child in children:
            group.create_task(supervise(child, backoff), name=f"supervise-{child.name}")
