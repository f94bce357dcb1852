"""The job queue in PostgreSQL.

- Submit inserts a queued row; a request id makes retried submits return the first job. The
  owner's limits (limits.py) are checked under a per-owner lock, so racing submits cannot both pass.
- Claims are fair (`jobs.next_job` in migration 0002): interactive before batch, then the owner
  running fewest jobs, then the owner served longest ago, then that owner's oldest job.
- Workers claim with `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same job,
  and hold it by a lease they renew (heartbeat). A worker that dies stops renewing; once the
  lease has expired the job is queued again (up to max_attempts) by whichever worker reaps next.
- A job given back (a passing fault, or a lost worker) waits an exponential back-off with jitter
  (RetryPolicy) in `run_after`, which claims honour; its progress says why and when it runs again.
- Every state or progress change fires NOTIFY through a trigger (see the migration).
- Cancellation is cooperative: a queued job is cancelled at once, a running one is flagged and
  its handler stops at its next progress report or heartbeat.
"""

from __future__ import annotations

import uuid
from typing import Any, LiteralString

from psycopg.types.json import Jsonb

from beatflow_platform import naming
from beatflow_platform.db.pool import DictConnection, DictPool
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from beatflow_platform.jobs import limits as user_limits
from beatflow_platform.jobs.estimator import Estimator
from beatflow_platform.jobs.model import Job, JobState, LeaseLost, NewJob, Priority, RetryPolicy
from beatflow_platform.jobs.payloads import JobPayload, JsonObject, payload_json
from beatflow_platform.pagination import PageTokens, page_size

_COLUMNS = (
    "id::text AS job_id, kind, owner_id, state, payload, progress_fraction, progress_stage, progress_message,"
    " attempt, max_attempts, cancel_requested, result, error_code, error_message, created_at, updated_at,"
    " started_at, ended_at, priority, audio_seconds, engine, run_after"
)


def _job(row: dict[str, Any]) -> Job:
    return Job(
        **{
            **row,
            "state": JobState(row["state"]),
            "priority": Priority(row["priority"]),
            "result": bytes(row["result"]) if row["result"] else None,
        }
    )


def _check_job_id(job_id: str) -> str:
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        raise InvalidArgument.for_field("job_id", "must be a UUID") from None


class JobQueue:
    def __init__(
        self,
        pool: DictPool,
        page_tokens: PageTokens,
        limits: user_limits.UserLimits | None = None,
        estimator: Estimator | None = None,
        retries: RetryPolicy | None = None,
    ):
        self._pool = pool
        self._page_tokens = page_tokens
        self.limits = limits or user_limits.UserLimits()
        self._estimator = estimator or Estimator()
        self.retries = retries or RetryPolicy()

    # ----- callers ---------------------------------------------------------------------------

    async def submit(
        self,
        kind: str,
        owner_id: str,
        payload: JobPayload | JsonObject,
        *,
        request_id: str = "",
        max_attempts: int = 3,
        priority: Priority = Priority.INTERACTIVE,
        audio_seconds: float = 0.0,
        engine: str = "",
    ) -> Job:
        new = NewJob(kind, payload, request_id, max_attempts, priority, audio_seconds, engine)
        return (await self.submit_many(owner_id, [new]))[0]

    async def submit_many(self, owner_id: str, jobs: list[NewJob]) -> list[Job]:
        """Queues all the jobs or, over one of the owner's limits, none; retried ones return the first job."""
        for job in jobs:
            if len(job.request_id) > naming.MAX_REQUEST_ID_LENGTH:
                raise InvalidArgument.for_field(
                    "request_id", f"must be at most {naming.MAX_REQUEST_ID_LENGTH} characters"
                )
        async with self._pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('beatflow.jobs.owner.' || %s))", (owner_id,))
            known = {job.request_id: await self._by_request_id(conn, owner_id, job) for job in jobs if job.request_id}
            fresh = [job for job in jobs if known.get(job.request_id) is None]
            if fresh:
                await self._check_limits(conn, owner_id, fresh)
            rows = [known.get(job.request_id) or await self._insert(conn, owner_id, job) for job in jobs]
            return await self._estimator.annotate(conn, [_job(row) for row in rows])

    async def _by_request_id(self, conn: DictConnection, owner_id: str, job: NewJob) -> dict | None:
        return await fetch_one(
            conn,
            f"SELECT {_COLUMNS} FROM jobs.jobs WHERE owner_id = %s AND kind = %s AND request_id = %s",
            (owner_id, job.kind, job.request_id),
        )

    async def _insert(self, conn: DictConnection, owner_id: str, job: NewJob) -> dict:
        row = await fetch_one(
            conn,
            f"INSERT INTO jobs.jobs (id, kind, owner_id, payload, request_id, max_attempts, priority,"
            f" audio_seconds, engine, created_at, updated_at)"
            # The clock, not the transaction's start: jobs submitted together keep their order.
            f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), clock_timestamp()) RETURNING {_COLUMNS}",
            (
                uuid.uuid4(),
                job.kind,
                owner_id,
                Jsonb(payload_json(job.payload)),
                job.request_id or None,
                job.max_attempts,
                int(job.priority),
                max(job.audio_seconds, 0.0),
                job.engine,
            ),
        )
        assert row is not None  # INSERT ... RETURNING returns the row it inserted
        return row

    async def _check_limits(self, conn: DictConnection, owner_id: str, jobs: list[NewJob]) -> None:
        limits = self.limits
        if limits.max_queued_jobs:
            queued = await fetch_one(
                conn, "SELECT count(*) AS n FROM jobs.jobs WHERE owner_id = %s AND state = 'queued'", (owner_id,)
            )
            assert queued is not None  # an aggregate returns one row
            # A place frees when one of the owner's jobs starts: about one job's run time.
            rates = await self._estimator.rates(conn)
            wait = min(rates.seconds(job.kind, job.engine, job.audio_seconds) for job in jobs)
            user_limits.check_queued(limits, queued["n"], len(jobs), wait)
        if limits.max_audio_seconds_per_day:
            usage = await fetch_all(
                conn,
                "SELECT created_at, audio_seconds FROM jobs.jobs"
                " WHERE owner_id = %s AND created_at > now() - %s AND audio_seconds > 0"
                " AND NOT (state = 'cancelled' AND started_at IS NULL) ORDER BY created_at",
                (owner_id, user_limits.AUDIO_WINDOW),
            )
            clock = await fetch_one(conn, "SELECT now() AS now")
            assert clock is not None  # a SELECT without FROM returns one row
            now = clock["now"]
            user_limits.check_audio_seconds(
                limits,
                [(row["created_at"], row["audio_seconds"]) for row in usage],
                sum(job.audio_seconds for job in jobs),
                now,
            )

    async def get(self, job_id: str, owner_id: str | None = None) -> Job:
        """The job; another owner's job is NOT_FOUND (owner_id None reads any, for workers)."""
        _check_job_id(job_id)
        async with self._pool.connection() as conn:
            row = await fetch_one(conn, f"SELECT {_COLUMNS} FROM jobs.jobs WHERE id = %s", (job_id,))
            if row is None or (owner_id is not None and row["owner_id"] != owner_id):
                raise NotFound("job", job_id)
            return (await self._estimator.annotate(conn, [_job(row)]))[0]

    async def list(
        self, owner_id: str, *, size: int = 0, page_token: str = "", state: JobState | None = None, kind: str = ""
    ) -> tuple[list[Job], str]:
        size = page_size(size)
        scope = f"ListJobs|{owner_id}|{state or ''}|{kind}"
        cursor = self._page_tokens.decode(scope, page_token)
        query = f"SELECT {_COLUMNS} FROM jobs.jobs WHERE owner_id = %(owner)s"
        params: dict[str, Any] = {"owner": owner_id, "limit": size + 1}
        if state:
            query += " AND state = %(state)s"
            params["state"] = state.value
        if kind:
            query += " AND kind = %(kind)s"
            params["kind"] = kind
        if cursor:
            query += " AND (created_at, id) < (%(t)s::timestamptz, %(id)s::uuid)"
            params.update(t=cursor["t"], id=cursor["id"])
        query += " ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
        async with self._pool.connection() as conn:
            rows = await fetch_all(conn, query, params)
            jobs = await self._estimator.annotate(conn, [_job(row) for row in rows[:size]])
        token = ""
        if len(rows) > size:
            token = self._page_tokens.encode(scope, {"t": jobs[-1].created_at.isoformat(), "id": jobs[-1].job_id})
        return jobs, token

    async def cancel(self, job_id: str, owner_id: str) -> Job:
        job = await self.get(job_id, owner_id)
        if job.state.terminal:
            raise FailedPrecondition(f"the job has already {job.state.value}", reason="JOB_FINISHED")
        async with self._pool.connection() as conn:
            row = await fetch_one(
                conn,
                f"UPDATE jobs.jobs SET"
                f" state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,"
                f" ended_at = CASE WHEN state = 'queued' THEN now() ELSE ended_at END,"
                f" cancel_requested = true, updated_at = now()"
                f" WHERE id = %s AND state IN ('queued', 'running') RETURNING {_COLUMNS}",
                (job_id,),
            )
        return _job(row) if row else await self.get(job_id, owner_id)

    # ----- workers ---------------------------------------------------------------------------

    async def claim(self, kinds: list[str], worker_id: str, lease_seconds: float) -> Job | None:
        """The next job by the fair order (see the module docstring), now leased to `worker_id`."""
        async with self._pool.connection() as conn:
            row = await fetch_one(
                conn,
                f"UPDATE jobs.jobs SET state = 'running', attempt = attempt + 1, lease_owner = %(worker)s,"
                f" lease_expires_at = now() + make_interval(secs => %(lease)s),"
                f" started_at = coalesce(started_at, now()), updated_at = now()"
                f" WHERE id = (SELECT jobs.next_job(%(kinds)s, %(max_running)s))"
                f" RETURNING {_COLUMNS}",
                {
                    "worker": worker_id,
                    "lease": lease_seconds,
                    "kinds": kinds,
                    "max_running": self.limits.max_running_jobs,
                },
            )
        return _job(row) if row else None

    async def claim_batch(self, job: Job, worker_id: str, lease_seconds: float, limit: int) -> list[Job]:
        """Claims up to `limit` more queued jobs of `job`'s batch (same kind and batch id)."""
        async with self._pool.connection() as conn:
            rows = await fetch_all(
                conn,
                f"UPDATE jobs.jobs SET state = 'running', attempt = attempt + 1, lease_owner = %(worker)s,"
                f" lease_expires_at = now() + make_interval(secs => %(lease)s),"
                f" started_at = coalesce(started_at, now()), updated_at = now()"
                f" WHERE id IN (SELECT id FROM jobs.jobs WHERE state = 'queued' AND kind = %(kind)s"
                f"   AND payload->>'batch_id' = %(batch)s AND run_after <= now()"  # payloads.BATCH_ID
                f"   ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
                f" RETURNING {_COLUMNS}",
                {
                    "worker": worker_id,
                    "lease": lease_seconds,
                    "kind": job.kind,
                    "batch": job.batch_id,
                    "limit": limit,
                },
            )
        return sorted((_job(row) for row in rows), key=lambda claimed: claimed.created_at)

    async def heartbeat(self, job_id: str, worker_id: str, lease_seconds: float) -> bool:
        """Renews the lease; returns whether cancellation was requested. Raises LeaseLost."""
        async with self._pool.connection() as conn:
            row = await fetch_one(
                conn,
                "UPDATE jobs.jobs SET lease_expires_at = now() + make_interval(secs => %s)"
                " WHERE id = %s AND lease_owner = %s AND state = 'running' RETURNING cancel_requested",
                (lease_seconds, job_id, worker_id),
            )
        if row is None:
            raise LeaseLost(job_id)
        return row["cancel_requested"]

    async def report_progress(self, job_id: str, worker_id: str, fraction: float, stage: str, message: str) -> bool:
        """Records progress; returns whether cancellation was requested. Raises LeaseLost."""
        async with self._pool.connection() as conn:
            row = await fetch_one(
                conn,
                "UPDATE jobs.jobs SET progress_fraction = %s, progress_stage = %s, progress_message = %s,"
                " updated_at = now() WHERE id = %s AND lease_owner = %s AND state = 'running'"
                " RETURNING cancel_requested",
                (min(max(fraction, 0.0), 1.0), stage, message, job_id, worker_id),
            )
        if row is None:
            raise LeaseLost(job_id)
        return row["cancel_requested"]

    async def finish(
        self,
        job_id: str,
        worker_id: str,
        state: JobState,
        *,
        result: bytes | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> bool:
        """Records the outcome if this worker still holds the job; returns whether it did."""
        async with self._pool.connection() as conn:
            finished = await conn.execute(
                "UPDATE jobs.jobs SET state = %s, result = %s, error_code = %s, error_message = %s,"
                " progress_fraction = CASE WHEN %s = 'succeeded' THEN 1 ELSE progress_fraction END,"
                " lease_owner = NULL, lease_expires_at = NULL, ended_at = now(), updated_at = now()"
                " WHERE id = %s AND lease_owner = %s AND state = 'running'",
                (state.value, result, error_code, error_message, state.value, job_id, worker_id),
            )
        return finished.rowcount == 1

    async def seconds_until_due(self, kinds: list[str]) -> float | None:
        """Seconds until the earliest job of `kinds` waiting out a back-off may be claimed; None if none waits."""
        async with self._pool.connection() as conn:
            row = await fetch_one(
                conn,
                "SELECT extract(epoch FROM min(run_after) - now())::float8 AS seconds FROM jobs.jobs"
                " WHERE state = 'queued' AND attempt > 0 AND run_after > now() AND kind = ANY(%s)",  # 0004's index
                (kinds,),
            )
        assert row is not None  # an aggregate returns one row
        return row["seconds"]

    async def _give_back(
        self, selection: LiteralString, params: dict[str, Any], reason: str, code: str, message: str
    ) -> int:
        """Runs `jobs.give_back` (migrations/0003) on the running jobs `selection` locks."""
        retries = self.retries
        async with self._pool.connection() as conn:
            row = await fetch_one(
                conn,
                f"SELECT jobs.give_back(ARRAY({selection}), %(reason)s, %(code)s, %(message)s,"
                f" %(base)s, %(max)s, %(jitter)s) AS changed",
                {
                    **params,
                    "reason": reason,
                    "code": code,
                    "message": message,
                    "base": retries.base_seconds,
                    "max": retries.max_seconds,
                    "jitter": retries.jitter,
                },
            )
        assert row is not None  # a SELECT without FROM returns one row
        return row["changed"]

    async def retry_later(self, job_id: str, worker_id: str, error: str) -> None:
        """Gives a job that failed transiently back to the queue after a back-off (the attempt counts);
        out of attempts it fails as UNAVAILABLE."""
        await self._give_back(
            "SELECT id FROM jobs.jobs WHERE id = %(id)s AND lease_owner = %(worker)s AND state = 'running' FOR UPDATE",
            {"id": job_id, "worker": worker_id},
            error,
            "UNAVAILABLE",
            error,
        )

    async def requeue_expired(self) -> int:
        """Jobs whose worker stopped renewing go back to the queue after a back-off, or fail after max_attempts."""
        return await self._give_back(
            "SELECT id FROM jobs.jobs WHERE state = 'running' AND lease_expires_at < now() FOR UPDATE SKIP LOCKED",
            {},
            "its worker stopped responding",
            "ABORTED",
            "the job lost its worker too many times",
        )
