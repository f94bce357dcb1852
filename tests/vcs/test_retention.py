"""Retention over real PostgreSQL: expired idempotency keys and login failures, finished jobs past their
retention, in bounded batches that skip locked rows; and `beatflow-admin prune` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest

from beatflow_platform.db.pool import connect
from beatflow_platform.jobs.retention import prune_finished_jobs
from beatflow_vcs import idempotency
from beatflow_vcs.retention import prune_idempotency_keys, prune_login_failures

DAY = timedelta(days=1)


@pytest.fixture
async def db(database_dsn):
    async with await connect(database_dsn) as conn:
        yield conn


async def add_keys(db, *ages_hours: float) -> None:
    for number, age in enumerate(ages_hours):
        await db.execute(
            "INSERT INTO vcs.idempotent_requests (principal_id, method, request_id, result_id, created_at)"
            " VALUES ('alice', 'CreateCommit', %s, %s, now() - %s)",
            (f"request-{number}", f"result-{number}", timedelta(hours=age)),
        )


async def add_failures(db, count: int, age: timedelta, login: str = "guessed") -> None:
    await db.execute(
        "INSERT INTO vcs.login_failures (login, client_address, failed_at)"
        " SELECT %s, '203.0.113.' || (i %% 250), now() - %s FROM generate_series(1, %s) AS i",
        (login, age, count),
    )


async def add_job(db, state: str, *, created_ago: timedelta, ended_ago: timedelta | None) -> str:
    row = await (
        await db.execute(
            "INSERT INTO jobs.jobs (id, kind, owner_id, state, payload, created_at, ended_at)"
            " VALUES (gen_random_uuid(), 'generator.generate', 'alice', %s, '{}', now() - %s, now() - %s::interval)"
            " RETURNING id::text AS id",
            (state, created_ago, ended_ago),
        )
    ).fetchone()
    return row["id"]


async def job_ids(db) -> set[str]:
    return {row["id"] for row in await (await db.execute("SELECT id::text AS id FROM jobs.jobs")).fetchall()}


async def test_expired_idempotency_keys_go_and_live_ones_are_still_recalled(db):
    await add_keys(db, 0.5, 23, 25, 24 * 40)
    report = await prune_idempotency_keys(db, DAY)
    assert (report.table, report.rows, report.dry_run) == ("vcs.idempotent_requests", 2, False)
    assert await idempotency.recall(db, "alice", "CreateCommit", "request-0", 40 * DAY) == "result-0"
    assert await idempotency.recall(db, "alice", "CreateCommit", "request-1", 40 * DAY) == "result-1"
    assert await idempotency.recall(db, "alice", "CreateCommit", "request-2", 40 * DAY) is None
    assert await idempotency.recall(db, "alice", "CreateCommit", "request-3", 40 * DAY) is None


async def test_login_failures_older_than_the_window_are_deleted(db):
    await add_failures(db, 7, timedelta(hours=3), login="forgotten")
    await add_failures(db, 2, timedelta(minutes=16), login="forgotten")
    await add_failures(db, 3, timedelta(minutes=5), login="recent")
    report = await prune_login_failures(db, timedelta(minutes=15))
    assert report.rows == 9
    left = await (await db.execute("SELECT login, count(*) AS n FROM vcs.login_failures GROUP BY login")).fetchall()
    assert {row["login"]: row["n"] for row in left} == {"recent": 3}


async def test_only_finished_jobs_past_retention_are_deleted_and_unfinished_ones_never(db):
    ancient, month = timedelta(days=400), timedelta(days=30)
    old_finished = {
        await add_job(db, state, created_ago=ancient, ended_ago=month + DAY)
        for state in ("succeeded", "failed", "cancelled")
    }
    recent_finished = {
        await add_job(db, state, created_ago=ancient, ended_ago=month - DAY)
        for state in ("succeeded", "failed", "cancelled")
    }
    # A year-old queued job (e.g. waiting for its retry) and a long running one have no end yet.
    unfinished = {await add_job(db, state, created_ago=ancient, ended_ago=None) for state in ("queued", "running")}
    # A job that failed, was requeued for another attempt and kept an old end time is not finished.
    unfinished.add(await add_job(db, "queued", created_ago=ancient, ended_ago=ancient))
    report = await prune_finished_jobs(db, month)
    assert (report.table, report.rows) == ("jobs.jobs", 3)
    assert await job_ids(db) == recent_finished | unfinished
    assert not old_finished & await job_ids(db)


async def test_dry_run_counts_what_a_real_run_deletes_and_deletes_nothing(db):
    await add_keys(db, 1, 30, 31, 32)
    await add_failures(db, 4, timedelta(hours=1))
    await add_job(db, "succeeded", created_ago=60 * DAY, ended_ago=59 * DAY)
    dry = [
        await prune_idempotency_keys(db, DAY, dry_run=True),
        await prune_login_failures(db, timedelta(minutes=15), dry_run=True),
        await prune_finished_jobs(db, 30 * DAY, dry_run=True),
    ]
    assert [(r.rows, r.batches, r.dry_run) for r in dry] == [(3, 0, True), (4, 0, True), (1, 0, True)]
    counts = await (
        await db.execute(
            "SELECT (SELECT count(*) FROM vcs.idempotent_requests) AS keys,"
            " (SELECT count(*) FROM vcs.login_failures) AS failures, (SELECT count(*) FROM jobs.jobs) AS jobs"
        )
    ).fetchone()
    assert counts == {"keys": 4, "failures": 4, "jobs": 1}
    real = [
        await prune_idempotency_keys(db, DAY),
        await prune_login_failures(db, timedelta(minutes=15)),
        await prune_finished_jobs(db, 30 * DAY),
    ]
    assert [r.rows for r in real] == [r.rows for r in dry]


async def test_batches_are_bounded_and_skip_rows_another_transaction_holds(db, database_dsn):
    await add_failures(db, 2500, timedelta(hours=2))
    async with await psycopg.AsyncConnection.connect(database_dsn) as holder:
        # Another transaction holds one expired row: pruning neither waits for it nor deletes it.
        await holder.execute("SELECT 1 FROM vcs.login_failures LIMIT 1 FOR UPDATE")
        report = await prune_login_failures(db, timedelta(minutes=15), batch_size=1000)
        assert report.rows == 2499
        assert report.batches == 3
        await holder.rollback()
    again = await prune_login_failures(db, timedelta(minutes=15), batch_size=1000)
    assert (again.rows, again.batches) == (1, 1)


async def test_prune_needs_autocommit_so_that_each_batch_commits(database_dsn):
    async with await psycopg.AsyncConnection.connect(database_dsn) as conn:
        with pytest.raises(ValueError, match="autocommit"):
            await prune_login_failures(conn, timedelta(minutes=15))


def admin(dsn: str, *args: str, **settings: str) -> list[dict]:
    env = {**os.environ, "BEATFLOW_ADMIN_VCS_DATABASE_URL": dsn, "BEATFLOW_ADMIN_JOBS_DATABASE_URL": dsn}
    env.update({f"BEATFLOW_ADMIN_{name.upper()}": value for name, value in settings.items()})
    result = subprocess.run(
        [sys.executable, "-m", "beatflow_admin", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


async def test_admin_prune_prints_one_json_line_per_table_and_honours_its_settings(db, database_dsn):
    await add_keys(db, 2, 30)
    await add_failures(db, 5, timedelta(hours=1))
    await add_job(db, "failed", created_ago=10 * DAY, ended_ago=8 * DAY)
    await add_job(db, "succeeded", created_ago=10 * DAY, ended_ago=6 * DAY)
    week = str(7 * 24 * 3600)
    dry = admin(database_dsn, "prune", "--dry-run", finished_job_retention_seconds=week)
    assert [(line["table"], line["rows"], line["dry_run"]) for line in dry] == [
        ("vcs.idempotent_requests", 1, True),
        ("vcs.login_failures", 5, True),
        ("jobs.jobs", 1, True),
    ]
    assert len(await job_ids(db)) == 2
    done = admin(database_dsn, "prune", finished_job_retention_seconds=week, batch_size="2")
    assert [(line["rows"], line["batches"]) for line in done] == [(1, 1), (5, 3), (1, 1)]
    assert len(await job_ids(db)) == 1
