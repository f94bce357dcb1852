"""Separations already done, found by what they depend on, so asking again costs one lookup.

The key covers the source blob (content-addressed), the engine, the model and its revision (the
sha256 of its weights, or of a weight-free engine's code), the parameters and the stem format.
The cache entry is the succeeded job itself: its payload carries the key and its result the stem
blobs. That keeps the entry in the jobs database the separator already owns (durable, shared by
every replica, no second write that could disagree with the job), and a job that failed or was
cancelled is never a hit. Entries are per owner: stem blobs are readable by the owner they were
stored for, so another user's identical request separates again (the stems it stores are the
same blobs, content-addressed).
"""

from __future__ import annotations

import hashlib
import json

from psycopg.types.json import Jsonb

from beatflow_platform.db.pool import DictPool
from beatflow_platform.db.queries import fetch_one

KEY_VERSION = 1


def cache_key(
    *, source_blob_id: str, engine: str, model_name: str, revision: str, parameters: dict, stem_format: str
) -> str:
    canonical = json.dumps(
        {
            "version": KEY_VERSION,
            "source": source_blob_id,
            "engine": engine,
            "model": model_name,
            "revision": revision,
            "parameters": parameters,
            "format": stem_format,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class SeparationCache:
    def __init__(self, pool: DictPool, kind: str):
        self._pool = pool
        self._kind = kind

    async def find(self, owner_id: str, key: str) -> str | None:
        """The id of the owner's latest succeeded separation with this key, if any (the owner's jobs index)."""
        async with self._pool.connection() as conn:
            row = await fetch_one(
                conn,
                "SELECT id::text AS job_id FROM jobs.jobs WHERE owner_id = %s AND kind = %s AND state = 'succeeded'"
                " AND payload @> %s ORDER BY ended_at DESC LIMIT 1",
                (owner_id, self._kind, Jsonb({"cache_key": key})),
            )
        return row["job_id"] if row else None
