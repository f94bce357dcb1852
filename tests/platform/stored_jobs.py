"""Jobs written straight into the jobs table, as rows queued by an earlier release look."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.types.json import Jsonb


async def queue_stored_row(dsn: str, kind: str, owner_id: str, payload: dict) -> str:
    """Inserts a queued job whose payload is exactly `payload` (no payload class involved); returns its id."""
    job_id = str(uuid.uuid4())
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO jobs.jobs (id, kind, owner_id, payload) VALUES (%s, %s, %s, %s)",
            (job_id, kind, owner_id, Jsonb(payload)),
        )
    return job_id


async def stored_payload(dsn: str, job_id: str) -> dict:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        row = await (await conn.execute("SELECT payload FROM jobs.jobs WHERE id = %s", (job_id,))).fetchone()
    assert row is not None, job_id
    return row[0]
