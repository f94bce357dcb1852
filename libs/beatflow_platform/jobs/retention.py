"""Retention of finished jobs: succeeded, failed and cancelled jobs are deleted some time after they
ended. Queued and running jobs are never touched, whatever their age. A deleted job's request id
(its idempotency key) is freed with it, and GetJob/WatchJob answer NOT_FOUND for it."""

from __future__ import annotations

from datetime import timedelta

from psycopg import sql

from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.pruning import PruneReport, PruneTarget, prune
from beatflow_platform.jobs.model import JobState

FINISHED_STATES = [state.value for state in JobState if state.terminal]
FINISHED_JOBS = PruneTarget("jobs.jobs", "ended_at", sql.SQL("state = ANY({})").format(sql.Literal(FINISHED_STATES)))


async def prune_finished_jobs(
    conn: DictConnection, older_than: timedelta, *, batch_size: int = 1000, dry_run: bool = False
) -> PruneReport:
    """Deletes jobs that ended more than `older_than` ago (autocommit connection, one batch per transaction)."""
    return await prune(conn, FINISHED_JOBS, older_than, batch_size=batch_size, dry_run=dry_run)
