"""Comments on moments: threads anchored to (commit, stem, time range) of a repository.

A commit's comments are those written on it and on its ancestors. A comment from an ancestor is
carried forward when its region did not change since: the stem has the same blob, or the musical
diff of the two takes finds no change in that range (the anchor then moves by whatever was inserted
or deleted before it); otherwise it is listed as `outdated`. A comment on the whole mix (empty stem)
is outdated when any stem changed in its range, or was added or removed. Replies carry their
thread's anchor.

Who may do what: reading follows the repository (private ones are NOT_FOUND to strangers); anyone
signed in who can read the repository may comment, so on a public repository any user can; only
the author edits a comment; the author or the repository's owner deletes it (moderation).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from beatflow_platform.auth import Principal
from beatflow_platform.db.pool import DictConnection, DictPool
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from beatflow_platform.pagination import PageTokens, page_size
from beatflow_vcs import validation, visibility
from beatflow_vcs.audio_diff import ChangedRange
from beatflow_vcs.graph import CommitGraph
from beatflow_vcs.repositories import Access, Repositories, viewer_id
from beatflow_vcs.stem_diffs import StemDiffs
from beatflow_vcs.store import CommitView, load_commits

# An anchor may end this far past the stem's end (rounding of printed times).
_END_TOLERANCE_SECONDS = 0.01

_COLUMNS = """
SELECT c.id::text AS comment_id, c.repo_id::text AS repo_id, c.commit_id, c.stem, c.start_seconds, c.end_seconds,
       coalesce(c.parent_id::text, '') AS parent_id, c.author_id::text AS author_id, u.username AS author_username,
       c.body, c.created_at, c.updated_at, c.deleted_at IS NOT NULL AS deleted
FROM vcs.comments c JOIN vcs.users u ON u.id = c.author_id
"""


@dataclass(frozen=True)
class Comment:
    comment_id: str
    repo_id: str
    commit_id: str
    stem: str
    start_seconds: float
    end_seconds: float
    parent_id: str
    author_id: str
    author_username: str
    body: str
    created_at: datetime
    updated_at: datetime
    deleted: bool
    # The anchor on the listed commit's timeline, and whether its region changed since `commit_id`.
    shown_start_seconds: float = 0.0
    shown_end_seconds: float = 0.0
    outdated: bool = False

    @property
    def edited(self) -> bool:
        return self.updated_at > self.created_at


def _comment(row: dict) -> Comment:
    return Comment(**row, shown_start_seconds=row["start_seconds"], shown_end_seconds=row["end_seconds"])


def carried(ranges: list[ChangedRange], start: float, end: float) -> tuple[float, float] | None:
    """The anchor [start, end] (base timeline) on the head's timeline, or None when a changed range touches it."""
    offset = 0.0
    for changed in ranges:
        low, high = changed.base_start, changed.base_end
        # Open intervals, except where the anchor is a point or the change an insertion: closed ones.
        if (low < end and start < high) if high > low and end > start else (low <= end and start <= high):
            return None
        if high <= start:
            offset = changed.head_end - changed.base_end
    return round(start + offset, 4), round(end + offset, 4)


class Comments:
    def __init__(self, pool: DictPool, repositories: Repositories, stem_diffs: StemDiffs, page_tokens: PageTokens):
        self._pool = pool
        self._repositories = repositories
        self._stem_diffs = stem_diffs
        self._page_tokens = page_tokens

    async def create(
        self,
        principal: Principal,
        repo_id: str,
        commit_id: str,
        *,
        stem: str,
        start: float,
        end: float,
        body: str,
        parent_id: str = "",
    ) -> Comment:
        author = _author(principal)
        _check_body(body)
        async with self._pool.connection() as conn, conn.transaction():
            await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            commit = await _commit_of(conn, repo_id, commit_id)
            if parent_id:
                parent = await _fetch(conn, repo_id, validation.uuid_id(parent_id, "parent_id"))
                stem, start, end, commit_id = parent.stem, parent.start_seconds, parent.end_seconds, parent.commit_id
            else:
                end = end or start  # a moment rather than a range
                _check_anchor(commit, stem, start, end)
            comment_id = str(uuid.uuid4())
            await conn.execute(
                "INSERT INTO vcs.comments (id, repo_id, commit_id, stem, start_seconds, end_seconds, parent_id,"
                " author_id, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (comment_id, repo_id, commit_id, stem, start, end, parent_id or None, author, body),
            )
            return await _fetch(conn, repo_id, comment_id)

    async def list(
        self, principal: Principal, repo_id: str, commit_id: str, size: int, page_token: str
    ) -> tuple[list[Comment], str]:
        """The commit's comments, oldest first, with carried-forward anchors and `outdated` marks."""
        size = page_size(size, default=100, maximum=500)
        scope = f"ListComments|{repo_id}|{commit_id}"
        async with self._pool.connection() as conn:
            await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            await _commit_of(conn, repo_id, commit_id)
            cursor = self._page_tokens.decode(scope, page_token) or {"after": ["-infinity", ""]}
            commented = await fetch_all(
                conn, "SELECT DISTINCT commit_id FROM vcs.comments WHERE repo_id = %s", (repo_id,)
            )
            graph = CommitGraph(conn)
            anchors = [r["commit_id"] for r in commented if await graph.is_ancestor(r["commit_id"], [commit_id])]
            rows = await fetch_all(
                conn,
                _COLUMNS + " WHERE c.repo_id = %(repo)s AND c.commit_id = ANY(%(commits)s)"
                " AND (c.deleted_at IS NULL OR EXISTS (SELECT 1 FROM vcs.comments r WHERE r.parent_id = c.id))"
                " AND (c.created_at, c.id::text) > (%(after)s::timestamptz, %(after_id)s)"
                " ORDER BY c.created_at, c.id::text LIMIT %(limit)s",
                {
                    "repo": repo_id,
                    "commits": anchors,
                    "after": cursor["after"][0],
                    "after_id": cursor["after"][1],
                    "limit": size + 1,
                },
            )
            commits = await load_commits(conn, sorted({commit_id, *(row["commit_id"] for row in rows[:size])}))
        listed = commits[commit_id]
        comments = [await self._as_seen_on(_comment(row), commits[row["commit_id"]], listed) for row in rows[:size]]
        token = ""
        if len(rows) > size:
            last = rows[size - 1]
            token = self._page_tokens.encode(scope, {"after": [last["created_at"].isoformat(), last["comment_id"]]})
        return comments, token

    async def update(self, principal: Principal, repo_id: str, comment_id: str, body: str) -> Comment:
        author = _author(principal)
        _check_body(body)
        async with self._pool.connection() as conn, conn.transaction():
            await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            comment = await _fetch(conn, repo_id, validation.uuid_id(comment_id, "comment_id"))
            if comment.author_id != author:
                raise PermissionDenied("only its author may edit a comment", reason="NOT_COMMENT_AUTHOR")
            await conn.execute(
                "UPDATE vcs.comments SET body = %s, updated_at = now() WHERE id = %s", (body, comment.comment_id)
            )
            return await _fetch(conn, repo_id, comment.comment_id)

    async def delete(self, principal: Principal, repo_id: str, comment_id: str) -> None:
        author = _author(principal)
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            comment = await _fetch(conn, repo_id, validation.uuid_id(comment_id, "comment_id"))
            if comment.author_id != author and repo.access < Access.ADMIN:
                raise PermissionDenied(
                    "only its author or the repository's owner may delete a comment", reason="NOT_COMMENT_AUTHOR"
                )
            await conn.execute(
                "UPDATE vcs.comments SET body = '', deleted_at = now() WHERE id = %s", (comment.comment_id,)
            )

    async def _as_seen_on(self, comment: Comment, anchor: CommitView, listed: CommitView) -> Comment:
        """The comment as listed on `listed`: its anchor moved onto that commit's timeline, or outdated."""
        if anchor.commit_id == listed.commit_id:
            return comment
        shown = (comment.start_seconds, comment.end_seconds)
        for name in [comment.stem] if comment.stem else sorted(anchor.tree.keys() | listed.tree.keys()):
            before, after = anchor.tree.get(name), listed.tree.get(name)
            if before is not None and after is not None and before.blob_id == after.blob_id:
                continue
            if before is None or after is None or not self._stem_diffs.comparable(before, after):
                return replace(comment, outdated=True)
            moved = carried(
                await self._stem_diffs.ranges(before, after, anchor.bpm, listed.bpm),
                comment.start_seconds,
                comment.end_seconds,
            )
            if moved is None:
                return replace(comment, outdated=True)
            shown = moved
        return replace(comment, shown_start_seconds=shown[0], shown_end_seconds=shown[1])


def _author(principal: Principal) -> str:
    user = viewer_id(principal)
    if user is None:
        raise PermissionDenied("comments are written by users", reason="USER_REQUIRED")
    return user


def _check_body(body: str) -> None:
    # The rule (length, no NUL, a character other than ASCII whitespace) is the interceptor's; blank
    # here also means Unicode whitespace alone (a no-break space), which the rule's pattern lets through.
    validation.require(body.strip() != "", "body", "must not be blank")


def _check_anchor(commit: CommitView, stem: str, start: float, end: float) -> None:
    if stem and stem not in commit.tree:
        raise InvalidArgument.for_field("stem", f"must be a stem of commit {commit.commit_id} or empty for the mix")
    takes = [commit.tree[stem]] if stem else list(commit.tree.values())
    duration = max((take.duration_seconds for take in takes), default=0.0)
    validation.require(
        0 <= start <= end <= duration + _END_TOLERANCE_SECONDS,
        "start_seconds",
        f"the range must satisfy 0 <= start_seconds <= end_seconds <= {duration:.3f} (the stem's length)",
    )


async def _commit_of(conn: DictConnection, repo_id: str, commit_id: str) -> CommitView:
    if not await visibility.repository_holds_commit(conn, repo_id, commit_id):
        raise NotFound("commit", commit_id)
    return (await load_commits(conn, [commit_id]))[commit_id]


async def _fetch(conn: DictConnection, repo_id: str, comment_id: str) -> Comment:
    row = await fetch_one(conn, _COLUMNS + " WHERE c.id = %s AND c.repo_id = %s", (comment_id, repo_id))
    if row is None:
        raise NotFound("comment", comment_id)
    comment = _comment(row)
    if comment.deleted:
        raise FailedPrecondition("the comment was deleted", reason="COMMENT_DELETED")
    return comment
