"""Storage of commits and refs: loading, resolving, writing, and moving branches by compare-and-swap.

Functions take the caller's connection so that a use case composes them in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.errors import Aborted, AlreadyExists, FailedPrecondition, NotFound
from beatflow_platform.objectstore import is_blob_id
from beatflow_vcs import visibility
from beatflow_vcs.commits import CommitContent, Tree, TreeEntry
from beatflow_vcs.repositories import Repository


@dataclass(frozen=True)
class CommitView:
    commit_id: str
    parents: tuple[str, ...]
    author_id: str
    author_username: str
    message: str
    bpm: float
    key_signature: str
    generation_params: dict
    tree: Tree
    created_at: datetime

    @property
    def metadata(self) -> dict:
        return {"bpm": self.bpm, "key_signature": self.key_signature, "generation_params": self.generation_params}


@dataclass(frozen=True)
class Ref:
    kind: str
    name: str
    commit_id: str
    message: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


async def load_commits(conn: DictConnection, ids: list[str]) -> dict[str, CommitView]:
    if not ids:
        return {}
    rows = await fetch_all(
        conn,
        "SELECT c.id, c.author_id::text AS author_id, u.username, c.message, c.bpm, c.key_signature,"
        " c.generation_params, c.created_at,"
        " coalesce((SELECT array_agg(p.parent_id ORDER BY p.position) FROM vcs.commit_parents p"
        "           WHERE p.commit_id = c.id), '{}') AS parents"
        " FROM vcs.commits c JOIN vcs.users u ON u.id = c.author_id WHERE c.id = ANY(%s)",
        (ids,),
    )
    stems = await fetch_all(
        conn,
        "SELECT s.commit_id, s.name, b.id AS blob_id, b.size_bytes, b.audio_format, b.duration_seconds,"
        " b.sample_rate, b.channels FROM vcs.commit_stems s JOIN vcs.blobs b ON b.id = s.blob_id"
        " WHERE s.commit_id = ANY(%s)",
        (ids,),
    )
    trees: dict[str, Tree] = {row["id"]: {} for row in rows}
    for stem in stems:
        commit_id, name = stem.pop("commit_id"), stem.pop("name")
        trees[commit_id][name] = TreeEntry(**stem)
    return {
        row["id"]: CommitView(
            commit_id=row["id"],
            parents=tuple(row["parents"]),
            author_id=row["author_id"],
            author_username=row["username"],
            message=row["message"],
            bpm=row["bpm"],
            key_signature=row["key_signature"],
            generation_params=row["generation_params"],
            tree=trees[row["id"]],
            created_at=row["created_at"],
        )
        for row in rows
    }


async def list_refs(conn: DictConnection, repo_id: str, kind: str | None = None) -> list[Ref]:
    query = (
        "SELECT kind, name, commit_id, message, created_by::text AS created_by, created_at, updated_at"
        " FROM vcs.refs WHERE repo_id = %s"
    )
    params: tuple = (repo_id,)
    if kind:
        query += " AND kind = %s"
        params += (kind,)
    return [Ref(**row) for row in await fetch_all(conn, query + " ORDER BY kind, name", params)]


async def resolve(conn: DictConnection, repo: Repository, ref: str, field: str) -> str:
    """A branch or tag name, or a commit id of this repository -> commit id. Empty means the default branch."""
    name = ref or repo.default_branch
    row = await fetch_one(
        conn,
        "SELECT commit_id FROM vcs.refs WHERE repo_id = %s AND name = %s ORDER BY kind LIMIT 1",
        (repo.repo_id, name),
    )
    if row is not None:
        return row["commit_id"]
    if is_blob_id(name) and await visibility.repository_holds_commit(conn, repo.repo_id, name):
        return name
    if not ref:
        raise FailedPrecondition(
            f"the repository has no commits on its default branch {repo.default_branch!r}",
            reason="EMPTY_REPOSITORY",
        )
    raise NotFound("ref", ref, f"{field}: no branch, tag or commit {ref!r} in this repository")


async def resolve_branch(conn, repo_id: str, name: str) -> str:
    row = await fetch_one(
        conn, "SELECT commit_id FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s", (repo_id, name)
    )
    if row is None:
        raise NotFound("branch", name)
    return row["commit_id"]


async def load_commit(conn: DictConnection, commit_id: str) -> CommitView:
    found = await load_commits(conn, [commit_id])
    if commit_id not in found:
        raise NotFound("commit", commit_id)
    return found[commit_id]


async def write_commit(conn: DictConnection, repo_id: str, content: CommitContent) -> str:
    """Stores a commit (a no-op if identical content exists) and records that this repository holds it."""
    generation = 1
    if content.parents:
        row = await fetch_one(
            conn, "SELECT max(generation) AS g FROM vcs.commits WHERE id = ANY(%s)", (list(content.parents),)
        )
        assert row is not None  # an aggregate without GROUP BY returns one row
        generation = row["g"] + 1
    commit_id = content.commit_id
    inserted = await conn.execute(
        "INSERT INTO vcs.commits (id, author_id, message, bpm, key_signature, generation_params, created_at,"
        " generation, canonical) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
        (
            commit_id,
            content.author_id,
            content.message,
            content.bpm,
            content.key_signature,
            Jsonb(content.generation_params),
            content.created_at,
            generation,
            content.canonical(),
        ),
    )
    if inserted.rowcount:
        async with conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO vcs.commit_parents (commit_id, position, parent_id) VALUES (%s, %s, %s)",
                [(commit_id, position, parent) for position, parent in enumerate(content.parents)],
            )
            await cursor.executemany(
                "INSERT INTO vcs.commit_stems (commit_id, name, blob_id) VALUES (%s, %s, %s)",
                [(commit_id, name, entry.blob_id) for name, entry in content.tree.items()],
            )
    await conn.execute(
        "INSERT INTO vcs.repo_commits (repo_id, commit_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (repo_id, commit_id),
    )
    return commit_id


async def move_branch(conn: DictConnection, repo_id: str, name: str, expected: str | None, new: str, user: str):
    """Compare-and-swap of a branch head; `expected` None means the branch must not exist yet."""
    if expected is None:
        try:
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO vcs.refs (repo_id, kind, name, commit_id, created_by)"
                    " VALUES (%s, 'branch', %s, %s, %s)",
                    (repo_id, name, new, user),
                )
            return
        except psycopg.errors.UniqueViolation:
            pass
    else:
        moved = await conn.execute(
            "UPDATE vcs.refs SET commit_id = %s, updated_at = now()"
            " WHERE repo_id = %s AND kind = 'branch' AND name = %s AND commit_id = %s",
            (new, repo_id, name, expected),
        )
        if moved.rowcount == 1:
            return
    current = await fetch_one(
        conn,
        "SELECT commit_id FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s",
        (repo_id, name),
    )
    raise branch_moved(name, current["commit_id"] if current else "", expected or "")


def branch_moved(name: str, head: str, expected: str) -> Aborted:
    """The compare-and-swap failure: what the caller expected and what the head is now."""
    return Aborted(
        f"branch {name!r} has moved: its head is now {head or 'absent'}; rebase your change on it",
        reason="BRANCH_MOVED",
        metadata={"branch": name, "current_head": head, "expected_head": expected},
    )


async def lock_branch_head(conn: DictConnection, repo_id: str, name: str) -> str | None:
    """The branch head, locked until the transaction ends (None when the branch does not exist)."""
    row = await fetch_one(
        conn,
        "SELECT commit_id FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s FOR UPDATE",
        (repo_id, name),
    )
    return row["commit_id"] if row else None


async def insert_ref(conn, repo_id: str, kind: str, name: str, commit_id: str, message: str, user: str) -> Ref:
    clash = await fetch_one(conn, "SELECT kind FROM vcs.refs WHERE repo_id = %s AND name = %s", (repo_id, name))
    if clash is not None:
        raise AlreadyExists(clash["kind"], name)
    try:
        async with conn.transaction():
            row = await fetch_one(
                conn,
                "INSERT INTO vcs.refs (repo_id, kind, name, commit_id, message, created_by)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING kind, name, commit_id, message,"
                " created_by::text AS created_by, created_at, updated_at",
                (repo_id, kind, name, commit_id, message, user),
            )
    except psycopg.errors.UniqueViolation:
        raise AlreadyExists(kind, name) from None
    assert row is not None  # INSERT ... RETURNING without ON CONFLICT returns its row
    return Ref(**row)


async def branch_exists(conn, repo_id: str, name: str) -> bool:
    row = await fetch_one(
        conn, "SELECT 1 FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s", (repo_id, name)
    )
    return row is not None


async def adopt_history(conn, repo_id: str, head: str) -> None:
    """Commits merged in from another repository become part of this one's history."""
    await conn.execute(
        "WITH RECURSIVE walk(id) AS (SELECT %s::text UNION"
        " SELECT p.parent_id FROM walk w JOIN vcs.commit_parents p ON p.commit_id = w.id)"
        " INSERT INTO vcs.repo_commits (repo_id, commit_id) SELECT %s, id FROM walk ON CONFLICT DO NOTHING",
        (head, repo_id),
    )
