"""What a job is, independent of storage and transport."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from beatflow_platform.jobs.payloads import BATCH_ID, JobPayload, JsonObject


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}


class Priority(enum.IntEnum):
    """Claim order between classes: every queued interactive job goes before any batch job."""

    INTERACTIVE = 0
    BATCH = 1


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str
    owner_id: str
    state: JobState
    payload: JsonObject  # as stored; the kind's payload class reads it (payloads.py)
    progress_fraction: float
    progress_stage: str
    progress_message: str
    attempt: int
    max_attempts: int
    cancel_requested: bool
    result: bytes | None
    error_code: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    priority: Priority = Priority.INTERACTIVE
    # Seconds of audio the job renders or reads (0 when unknown at submit), and its engine.
    audio_seconds: float = 0.0
    engine: str = ""
    # A queued job is not claimed before this time (later than its submit while it waits to be retried).
    run_after: datetime | None = None
    # Estimates for a queued job (position 1 is claimed next) and an unfinished one (seconds to its end).
    queue_position: int = 0
    eta_seconds: float | None = None

    @property
    def batch_id(self) -> str:
        """The batch the job was submitted in ("" when none): its jobs may run together."""
        return str(self.payload.get(BATCH_ID, ""))


@dataclass(frozen=True)
class NewJob:
    """What a caller submits; `request_id` makes a retried submit return the first job."""

    kind: str
    payload: JobPayload | JsonObject
    request_id: str = ""
    max_attempts: int = 3
    priority: Priority = Priority.INTERACTIVE
    audio_seconds: float = 0.0
    engine: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """How long a job given back to the queue waits before its next attempt.

    After attempt n fails: `base_seconds` x 2^(n-1), at most `max_seconds`, times a random factor in
    [1 - jitter, 1 + jitter] so that jobs which failed together come back spread out
    (`jobs.retry_delay_seconds` in migrations/0003 computes it, one row at a time).
    """

    base_seconds: float = 2.0
    max_seconds: float = 300.0
    jitter: float = 0.25


class JobCancelled(Exception):
    """Raised inside a handler when its job was cancelled; the worker records the cancellation."""


class LeaseLost(Exception):
    """The worker no longer holds the job (its lease expired and another worker took it)."""
