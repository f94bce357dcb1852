"""What a job is, independent of storage and transport."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str
    owner_id: str
    state: JobState
    payload: dict
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


class JobCancelled(Exception):
    """Raised inside a handler when its job was cancelled; the worker records the cancellation."""


class LeaseLost(Exception):
    """The worker no longer holds the job (its lease expired and another worker took it)."""
