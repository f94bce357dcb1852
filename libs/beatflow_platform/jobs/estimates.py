"""Queue position and ETA of unfinished jobs, from measured real-time factors.

A job's run time is estimated from recently succeeded jobs of its kind and engine: the median wall
time per second of audio (jobs that know their audio length), else the median wall time per job.
Without history the defaults below apply. Positions follow the claim order (queue.py): every job of
a better priority class goes first; within a class owners take turns, so a job that is its owner's
r-th in line waits behind at most r jobs of each other owner of the class (counted in full, so the
position is an upper bound). Workers are the jobs running in the job's family (`generator.*`,
`separator.*`), at least one. A job waiting out a retry back-off starts no sooner than its `run_after`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from beatflow_platform.jobs.model import Job, JobState

# Until a kind and engine has finished jobs: one second of work per second of audio, and a job of
# unknown audio length counts as this many seconds.
DEFAULT_SECONDS_PER_AUDIO_SECOND = 1.0
DEFAULT_JOB_SECONDS = 30.0
# Below this progress a running job's rate says little; its estimate is used instead.
_MIN_PROGRESS = 0.05


def family(kind: str) -> str:
    """The workers that run a kind: the service part of `service.work`."""
    return kind.split(".", 1)[0]


@dataclass(frozen=True)
class Rate:
    seconds_per_audio_second: float = DEFAULT_SECONDS_PER_AUDIO_SECOND
    seconds_per_job: float = DEFAULT_JOB_SECONDS

    def job_seconds(self, audio_seconds: float) -> float:
        return audio_seconds * self.seconds_per_audio_second if audio_seconds > 0 else self.seconds_per_job


@dataclass(frozen=True)
class Rates:
    """Measured rates per (kind, engine), from `(kind, engine, audio_seconds, wall_seconds)` samples."""

    by_key: dict[tuple[str, str], Rate] = field(default_factory=dict)

    @classmethod
    def from_samples(cls, samples: list[tuple[str, str, float, float]]) -> Rates:
        per_audio: dict[tuple[str, str], list[float]] = defaultdict(list)
        per_job: dict[tuple[str, str], list[float]] = defaultdict(list)
        for kind, engine, audio_seconds, wall_seconds in samples:
            per_job[kind, engine].append(wall_seconds)
            if audio_seconds > 0:
                per_audio[kind, engine].append(wall_seconds / audio_seconds)
        return cls(
            {
                key: Rate(
                    statistics.median(per_audio[key]) if per_audio[key] else DEFAULT_SECONDS_PER_AUDIO_SECOND,
                    statistics.median(walls),
                )
                for key, walls in per_job.items()
            }
        )

    def seconds(self, kind: str, engine: str, audio_seconds: float) -> float:
        return self.by_key.get((kind, engine), Rate()).job_seconds(audio_seconds)


@dataclass(frozen=True)
class QueuedGroup:
    """Queued jobs of one family sharing owner, priority, kind and engine."""

    owner_id: str
    priority: int
    kind: str
    engine: str
    jobs: int
    audio_seconds: float  # summed over the jobs that know their length
    unknown_length: int  # jobs without a known audio length


@dataclass(frozen=True)
class RunningJob:
    kind: str
    engine: str
    audio_seconds: float
    started_at: datetime
    progress_fraction: float


@dataclass(frozen=True)
class QueueSnapshot:
    """A job family's queue at one moment, and the rank of some of one owner's queued jobs within
    the owner's jobs of their class (1: the owner's next), by job id."""

    groups: list[QueuedGroup]
    running: list[RunningJob]
    ranks: dict[str, int]


def _remaining(job: RunningJob | Job, rates: Rates, now: datetime) -> float:
    elapsed = max((now - job.started_at).total_seconds(), 0.0) if job.started_at else 0.0
    if job.progress_fraction >= _MIN_PROGRESS:
        return elapsed / job.progress_fraction * (1 - job.progress_fraction)
    return max(rates.seconds(job.kind, job.engine, job.audio_seconds) - elapsed, 0.0)


def _group_seconds(group: QueuedGroup, rates: Rates) -> float:
    rate = rates.by_key.get((group.kind, group.engine), Rate())
    return group.audio_seconds * rate.seconds_per_audio_second + group.unknown_length * rate.seconds_per_job


def standing(job: Job, snapshot: QueueSnapshot, now: datetime, rates: Rates) -> tuple[int, float | None]:
    """(queue position, seconds until the job should end) for an unfinished job; (0, None) otherwise."""
    if job.state == JobState.RUNNING:
        return 0, _remaining(job, rates, now)
    if job.state != JobState.QUEUED:
        return 0, None
    rank = max(snapshot.ranks.get(job.job_id, 1), 1)
    better_jobs, better_seconds = 0, 0.0
    others: dict[str, int] = defaultdict(int)
    for group in snapshot.groups:
        if group.priority < job.priority:
            better_jobs += group.jobs
            better_seconds += _group_seconds(group, rates)
        elif group.priority == job.priority and group.owner_id != job.owner_id:
            others[group.owner_id] += group.jobs
    # In its class: the owner's older jobs, and up to `rank` jobs of each other owner (their turns).
    same_class_ahead = (rank - 1) + sum(min(count, rank) for count in others.values())
    queued_jobs = sum(group.jobs for group in snapshot.groups)
    mean_seconds = sum(_group_seconds(group, rates) for group in snapshot.groups) / queued_jobs if queued_jobs else 0.0
    ahead_seconds = better_seconds + same_class_ahead * mean_seconds
    running_seconds = sum(_remaining(running, rates, now) for running in snapshot.running)
    workers = max(len(snapshot.running), 1)
    start = (running_seconds + ahead_seconds) / workers
    if job.run_after is not None:
        start = max(start, (job.run_after - now).total_seconds())
    own = rates.seconds(job.kind, job.engine, job.audio_seconds)
    return better_jobs + same_class_ahead + 1, start + own
