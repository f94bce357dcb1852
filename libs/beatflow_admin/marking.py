"""The mark phase of blob garbage collection: what keeps a blob alive.

- Commits: every stored commit, whether or not a ref reaches it. Commits are immutable and never
  deleted (a deleted repository keeps its commits for its forks' lineage and its comments; a fork
  shares its source's commits), so their stems are live: the sweepers test vcs.commit_stems directly
  (indexed; nothing is copied). Blob ids in a commit's generation_params (a generated commit's MIDI
  files, the hum it followed) are marked here.
- Jobs queued, running, or ended within the job retention: every blob id in their payload (inputs)
  and result (outputs), whatever the job's kind, found as content addresses in the JSON and in the
  serialized JobResult. A commit or job id that looks the same marks nothing that exists.
- Renders: the sweepers keep every object a vcs.renders row names.
- Comments name a commit and a stem, never a blob: the commit keeps their audio.

Marks are taken once, at the start of a collection. A blob named later (by a new job or commit) was
uploaded less than the grace period before, so the sweepers leave it alone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import timedelta

from psycopg import sql

from beatflow_platform.db.gc import CONTENT_ADDRESS_PATTERN, LiveIds
from beatflow_platform.db.pool import DictConnection

_COMMIT_PARAMS_BLOB_IDS = sql.SQL(
    "SELECT m[1] FROM vcs.commits c"
    " CROSS JOIN LATERAL regexp_matches(c.generation_params::text, %(pattern)s, 'g') AS m"
    " WHERE EXISTS (SELECT 1 FROM vcs.blobs b WHERE b.id = m[1])"
)
# `result` is a serialized beatflow.jobs.v1.JobResult: its strings (blob ids among them) stay readable in
# the escape encoding, which only rewrites bytes outside printable ASCII.
_JOB_BLOB_IDS = (
    "SELECT DISTINCT m[1] AS id FROM jobs.jobs j"
    " CROSS JOIN LATERAL regexp_matches(j.payload::text || ' ' || coalesce(encode(j.result, 'escape'), ''),"
    " %(pattern)s, 'g') AS m"
    " WHERE j.state IN ('queued', 'running') OR j.ended_at >= now() - %(retention)s"
)


@dataclass(frozen=True)
class MarkReport:
    """How many blob ids were marked from each root that is not read in place."""

    from_commit_params: int
    from_jobs: int

    def as_json(self) -> str:
        return json.dumps({"phase": "mark", **asdict(self)})


async def mark(live: LiveIds, jobs: DictConnection, job_retention: timedelta) -> MarkReport:
    """Fills `live` (on the vcs database's collector connection) from commits' parameters and from jobs."""
    await live.create()
    from_commits = await live.add_from(_COMMIT_PARAMS_BLOB_IDS, {"pattern": CONTENT_ADDRESS_PATTERN})
    from_jobs = await live.copy_in(_job_blob_ids(jobs, job_retention))
    await live.analyze()
    return MarkReport(from_commits, from_jobs)


async def _job_blob_ids(jobs: DictConnection, retention: timedelta) -> AsyncIterator[str]:
    """Streamed through a server-side cursor, so memory stays bounded however many jobs there are."""
    async with jobs.transaction(), jobs.cursor(name="gc_job_blob_ids") as cursor:
        await cursor.execute(_JOB_BLOB_IDS, {"pattern": CONTENT_ADDRESS_PATTERN, "retention": retention})
        async for row in cursor:
            yield row["id"]
