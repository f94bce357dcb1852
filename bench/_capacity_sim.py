"""A small discrete-event simulation of first-come-first-served queues with identical servers.

The event loop keeps one event per server, the time it next frees, in a heap: each arrival (in
time order) takes the server that frees first, starts at the later of its arrival and that time,
and schedules the server's next free time. With first come first served this is exact for any
arrival and service distribution (the Kiefer-Wolfowitz recursion), and costs O(log servers) per
job, so a run of 20,000 jobs takes milliseconds. Arrivals are Poisson streams, one per job class.
The analytic M/M/c (Erlang C) wait is here too, to check the simulation against.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# The first jobs of a run see an empty system: leave them out of the figures.
WARMUP_FRACTION = 0.1


@dataclass(frozen=True)
class JobClass:
    """A Poisson stream of jobs; `service` draws one job's service time in seconds."""

    name: str
    rate_per_s: float
    service: Callable[[random.Random], float]


@dataclass(frozen=True)
class QueueRun:
    waits_by_class: dict[str, list[float]]  # arrival to start, seconds, after the warm-up
    mean_queue_length_seen: float  # jobs waiting, as seen by arrivals (= the time average, PASTA)
    utilisation: float  # offered load / servers, from the drawn service times

    @property
    def waits(self) -> list[float]:
        return [wait for waits in self.waits_by_class.values() for wait in waits]

    def p95_wait_s(self, name: str | None = None) -> float:
        return percentile(self.waits_by_class[name] if name else self.waits, 95)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else 0.0


def fifo_starts(arrivals: Sequence[float], services: Sequence[float], servers: int) -> list[float]:
    """Start times of jobs (in arrival order) served first come first served by `servers` servers."""
    free_at = [0.0] * servers  # a heap: when each server next frees
    starts = []
    for arrival, service in zip(arrivals, services, strict=True):
        start = max(arrival, free_at[0])
        heapq.heapreplace(free_at, start + service)
        starts.append(start)
    return starts


def simulate_queue(classes: Sequence[JobClass], servers: int, *, jobs: int, seed: int) -> QueueRun:
    """Runs `jobs` arrivals of the merged Poisson streams through one FCFS queue of `servers`."""
    rng = random.Random(seed)
    total_rate = sum(job_class.rate_per_s for job_class in classes)
    shares = [job_class.rate_per_s / total_rate for job_class in classes]
    arrivals, services, names = [], [], []
    now = 0.0
    for _ in range(jobs):
        now += rng.expovariate(total_rate)
        job_class = rng.choices(classes, shares)[0]
        arrivals.append(now)
        services.append(job_class.service(rng))
        names.append(job_class.name)
    starts = fifo_starts(arrivals, services, servers)
    skip = int(jobs * WARMUP_FRACTION)
    waits: dict[str, list[float]] = {job_class.name: [] for job_class in classes}
    seen = 0
    for index in range(skip, jobs):
        waits[names[index]].append(starts[index] - arrivals[index])
        # Starts are in arrival order (FCFS), so the jobs still waiting at this arrival are the
        # earlier ones that start after it.
        seen += index - bisect.bisect_right(starts, arrivals[index], 0, index)
    return QueueRun(
        waits_by_class=waits,
        mean_queue_length_seen=seen / (jobs - skip),
        utilisation=total_rate * (sum(services) / jobs) / servers,
    )


def servers_for(
    classes: Sequence[JobClass], target_p95_wait_s: float, *, jobs: int, seed: int, max_utilisation: float = 1.0
) -> int:
    """The fewest servers, busy at most `max_utilisation`, whose simulated p95 wait meets the target.

    Bisection is sound because more servers never make a first-come-first-served job wait longer.
    A finite run of a pool that is almost always busy can look fine for its length and still be
    unstable: the utilisation bound keeps large pools out of that regime.
    """
    # Busy servers on average: the same for any number of servers (a seed draws the same jobs).
    offered = simulate_queue(classes, 1, jobs=jobs, seed=seed).utilisation

    def meets(servers: int) -> bool:
        return simulate_queue(classes, servers, jobs=jobs, seed=seed).p95_wait_s() <= target_p95_wait_s

    low = math.floor(offered / max_utilisation)  # taken as failing: busier than allowed
    high = low + 1
    while not meets(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if meets(middle) else (middle, high)
    return high


def erlang_c_wait_probability(arrival_rate: float, service_rate: float, servers: int) -> float:
    """P(an arrival waits) in M/M/c."""
    offered = arrival_rate / service_rate
    if offered >= servers:
        return 1.0
    term, below = 1.0, 0.0
    for k in range(servers):
        below += term
        term *= offered / (k + 1)
    waiting = term * servers / (servers - offered)
    return waiting / (below + waiting)


def erlang_c_mean_wait_s(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean wait in queue in M/M/c: P(wait) / (c mu - lambda)."""
    return erlang_c_wait_probability(arrival_rate, service_rate, servers) / (servers * service_rate - arrival_rate)
