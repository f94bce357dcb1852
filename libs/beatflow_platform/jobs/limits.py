"""Per-user limits on the job queue.

Queued jobs and audio-seconds per day are checked at submit (RESOURCE_EXHAUSTED naming the limit,
with a RetryInfo the gateway turns into 429 + Retry-After); running jobs are capped at claim time,
where an owner at the cap simply waits for its next turn. 0 means no limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from beatflow_platform.errors import ResourceExhausted

AUDIO_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class UserLimits:
    max_queued_jobs: int = 0
    max_running_jobs: int = 0
    max_audio_seconds_per_day: float = 0.0


class LimitExceeded(ResourceExhausted):
    """A submit over one of the owner's limits; `limit` names the setting, e.g. "max_queued_jobs"."""

    def __init__(self, limit: str, value: float, message: str, retry_after_seconds: float | None):
        self.limit = limit
        self.retry_after_seconds = None if retry_after_seconds is None else max(1, math.ceil(retry_after_seconds))
        metadata = {"limit": limit, "limit_value": f"{value:g}"}
        if self.retry_after_seconds is not None:
            metadata["retry_after_seconds"] = str(self.retry_after_seconds)
        super().__init__(message, reason="USER_LIMIT_EXCEEDED", metadata=metadata)

    def details(self) -> list[Message]:
        if self.retry_after_seconds is None:
            return super().details()
        retry = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=self.retry_after_seconds))
        return [*super().details(), retry]


def check_queued(limits: UserLimits, queued: int, adding: int, retry_after_seconds: float) -> None:
    if limits.max_queued_jobs and queued + adding > limits.max_queued_jobs:
        raise LimitExceeded(
            "max_queued_jobs",
            limits.max_queued_jobs,
            f"you have {queued} jobs queued; at most {limits.max_queued_jobs} may wait at once",
            retry_after_seconds,
        )


def check_audio_seconds(limits: UserLimits, usage: list[tuple[datetime, float]], adding: float, now: datetime) -> None:
    """`usage`: (submitted at, audio seconds) of the owner's jobs in the last day, oldest first."""
    cap = limits.max_audio_seconds_per_day
    used = sum(seconds for _, seconds in usage)
    if not cap or used + adding <= cap:
        return
    retry_after = None  # a request larger than the whole allowance never fits
    if adding <= cap:
        excess = used + adding - cap
        for submitted_at, seconds in usage:
            excess -= seconds
            if excess <= 0:
                retry_after = (submitted_at + AUDIO_WINDOW - now).total_seconds()
                break
    raise LimitExceeded(
        "max_audio_seconds_per_day",
        cap,
        f"this needs {adding:g} s of audio and {max(cap - used, 0):g} s of your {cap:g} s per day are left",
        retry_after,
    )
