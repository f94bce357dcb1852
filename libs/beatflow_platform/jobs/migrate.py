"""Applies the jobs schema's migrations (every process that runs workers may do this at start)."""

from __future__ import annotations

from importlib import resources

from beatflow_platform.db.migrations import load_migrations, migrate
from beatflow_platform.db.pool import connect

SCHEMA = "jobs"


async def apply_job_migrations(dsn: str) -> None:
    async with await connect(dsn) as conn:
        await migrate(conn, SCHEMA, load_migrations(resources.files("beatflow_platform.jobs.migrations")))
