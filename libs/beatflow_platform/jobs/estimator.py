"""Reads what estimates.py needs from PostgreSQL: recent run times (cached) and queue snapshots."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime

from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.jobs.estimates import QueuedGroup, QueueSnapshot, Rates, RunningJob, family, standing
from beatflow_platform.jobs.model import Job

# Rates come from at most this many recent successes per kind and engine, of the last day.
RATE_SAMPLE = 50
RATE_TTL_SECONDS = 30.0


_SNAPSHOT = """
SELECT now() AS now,
  (SELECT coalesce(json_agg(g), '[]') FROM (
     SELECT owner_id, priority, kind, engine, count(*) AS jobs, sum(audio_seconds) AS audio_seconds,
       count(*) FILTER (WHERE audio_seconds = 0) AS unknown_length
     FROM jobs.jobs WHERE state = 'queued' AND split_part(kind, '.', 1) = %(family)s
     GROUP BY owner_id, priority, kind, engine) g) AS groups,
  (SELECT coalesce(json_agg(r), '[]') FROM (
     SELECT kind, engine, audio_seconds, started_at, progress_fraction FROM jobs.jobs
     WHERE state = 'running' AND split_part(kind, '.', 1) = %(family)s) r) AS running,
  (SELECT coalesce(json_object_agg(mine.id, (
       SELECT count(*) FROM jobs.jobs o WHERE o.owner_id = mine.owner_id AND o.state = 'queued'
         AND o.priority = mine.priority AND o.created_at <= mine.created_at
         AND split_part(o.kind, '.', 1) = %(family)s)), '{}')
     FROM jobs.jobs mine WHERE mine.id = ANY(%(ids)s::uuid[]) AND mine.state = 'queued') AS ranks
"""


class Estimator:
    def __init__(self, rate_ttl_seconds: float = RATE_TTL_SECONDS):
        self._ttl = rate_ttl_seconds
        self._rates: Rates | None = None
        self._rates_read_at = 0.0

    async def rates(self, conn: DictConnection) -> Rates:
        if self._rates is None or time.monotonic() - self._rates_read_at > self._ttl:
            rows = await fetch_all(
                conn,
                "SELECT kind, engine, audio_seconds, extract(epoch FROM ended_at - started_at)::float8 AS wall"
                " FROM (SELECT kind, engine, audio_seconds, started_at, ended_at,"
                "        row_number() OVER (PARTITION BY kind, engine ORDER BY ended_at DESC) AS recent"
                "       FROM jobs.jobs WHERE state = 'succeeded' AND ended_at > now() - interval '1 day'"
                "         AND started_at IS NOT NULL) finished"
                " WHERE recent <= %s",
                (RATE_SAMPLE,),
            )
            self._rates = Rates.from_samples([(r["kind"], r["engine"], r["audio_seconds"], r["wall"]) for r in rows])
            self._rates_read_at = time.monotonic()
        return self._rates

    async def snapshot(
        self, conn: DictConnection, job_family: str, job_ids: list[str]
    ) -> tuple[QueueSnapshot, datetime]:
        """The family's queue, the ranks of `job_ids` (one owner's) and the database's clock, in one round trip."""
        row = await fetch_one(conn, _SNAPSHOT, {"family": job_family, "ids": job_ids})
        assert row is not None  # a SELECT without FROM returns one row
        snapshot = QueueSnapshot(
            [QueuedGroup(**group) for group in row["groups"]],
            [RunningJob(**{**job, "started_at": datetime.fromisoformat(job["started_at"])}) for job in row["running"]],
            row["ranks"],
        )
        return snapshot, row["now"]

    async def annotate(self, conn: DictConnection, jobs: list[Job]) -> list[Job]:
        """The jobs with queue position and ETA filled in where unfinished (one snapshot per family)."""
        unfinished = [job for job in jobs if not job.state.terminal]
        if not unfinished:
            return jobs
        rates = await self.rates(conn)
        groups: dict[tuple[str, str], list[str]] = {}
        for job in unfinished:
            groups.setdefault((family(job.kind), job.owner_id), []).append(job.job_id)
        snapshots = {key: await self.snapshot(conn, key[0], ids) for key, ids in groups.items()}
        annotated = []
        for job in jobs:
            if not job.state.terminal:
                position, eta = standing(job, *snapshots[family(job.kind), job.owner_id], rates)
                job = dataclasses.replace(job, queue_position=position, eta_seconds=eta)
            annotated.append(job)
        return annotated
