"""Who may read a commit or a blob without naming a repository.

A commit belongs to the repositories that brought it in (vcs.repo_commits) and to their forks
made after that (a fork sees its source's rows with seq <= fork_source_seq, transitively).
The caller may read the commit if any of those repositories is readable to them.
"""

from __future__ import annotations

from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.queries import fetch_one

_READABLE_HOLDER = """
WITH RECURSIVE holders(repo_id, seq) AS (
    {seed}
    UNION
    SELECT r.id, h.seq FROM holders h
    JOIN vcs.repositories r ON r.fork_source_repo_id = h.repo_id AND r.fork_source_seq >= h.seq
)
SELECT h.repo_id::text AS repo_id FROM holders h
JOIN vcs.repositories r ON r.id = h.repo_id
LEFT JOIN vcs.collaborators c ON c.repo_id = r.id AND c.user_id = %(viewer)s
WHERE r.deleted_at IS NULL AND (r.is_public OR r.owner_id = %(viewer)s OR c.user_id IS NOT NULL)
LIMIT 1
"""
_COMMIT_SEED = "SELECT repo_id, seq FROM vcs.repo_commits WHERE commit_id = %(target)s"
_BLOB_SEED = (
    "SELECT rc.repo_id, rc.seq FROM vcs.commit_stems s"
    " JOIN vcs.repo_commits rc ON rc.commit_id = s.commit_id WHERE s.blob_id = %(target)s"
)
_LINEAGE_HOLDS = """
WITH RECURSIVE lineage(repo_id, bound) AS (
    SELECT id, NULL::bigint FROM vcs.repositories WHERE id = %(repo)s
    UNION ALL
    SELECT r.fork_source_repo_id, LEAST(l.bound, r.fork_source_seq) FROM lineage l
    JOIN vcs.repositories r ON r.id = l.repo_id WHERE r.fork_source_repo_id IS NOT NULL
)
SELECT 1 AS held FROM vcs.repo_commits rc JOIN lineage l ON rc.repo_id = l.repo_id
WHERE rc.commit_id = %(commit)s AND (l.bound IS NULL OR rc.seq <= l.bound)
LIMIT 1
"""


async def readable_repository_holding_commit(conn: DictConnection, viewer: str | None, commit_id: str) -> str | None:
    row = await fetch_one(conn, _READABLE_HOLDER.format(seed=_COMMIT_SEED), {"viewer": viewer, "target": commit_id})
    return row["repo_id"] if row else None


async def readable_repository_holding_blob(conn: DictConnection, viewer: str | None, blob_id: str) -> str | None:
    row = await fetch_one(conn, _READABLE_HOLDER.format(seed=_BLOB_SEED), {"viewer": viewer, "target": blob_id})
    return row["repo_id"] if row else None


async def repository_holds_commit(conn: DictConnection, repo_id: str, commit_id: str) -> bool:
    """Whether the commit belongs to this repository's history (itself or its fork lineage)."""
    return await fetch_one(conn, _LINEAGE_HOLDS, {"repo": repo_id, "commit": commit_id}) is not None
