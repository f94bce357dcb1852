"""Commits, branches, tags, history, diff, merge and revert of a repository.

Every write happens in one transaction that ends by moving a ref with compare-and-swap
(UPDATE ... WHERE commit_id = expected): of two racing writers exactly one wins and the
other is ABORTED with the current head, and the loser leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from beatflow_platform.auth import Principal
from beatflow_platform.db.queries import fetch_all, fetch_one
from beatflow_platform.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from beatflow_platform.objectstore import ObjectStore, is_blob_id
from beatflow_platform.pagination import PageTokens, page_size
from beatflow_vcs import idempotency, merging, validation, visibility
from beatflow_vcs.blobs import Blobs
from beatflow_vcs.commits import MAX_STEMS, CommitContent, Tree, TreeEntry, check_bpm, check_params, normalise_key
from beatflow_vcs.graph import CommitGraph
from beatflow_vcs.repositories import Access, Repositories, Repository, viewer_id


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


@dataclass(frozen=True)
class HistoryPage:
    nodes: list[tuple[CommitView, list[str], list[str]]]
    branches: list[Ref]
    tags: list[Ref]
    next_page_token: str


@dataclass(frozen=True)
class Diff:
    base: CommitView
    head: CommitView
    stem_changes: list[merging.StemChange]
    metadata_changes: list[tuple[str, str, str]]


@dataclass(frozen=True)
class MergeOutcome:
    outcome: str  # "up_to_date", "fast_forward", "merge_commit" or "conflict"
    commit: CommitView | None
    result: merging.MergeResult | None


@dataclass(frozen=True)
class StemSpec:
    name: str
    blob_id: str


async def load_commits(conn: AsyncConnection, ids: list[str]) -> dict[str, CommitView]:
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


class VersionControl:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        repositories: Repositories,
        blobs: Blobs,
        store: ObjectStore,
        page_tokens: PageTokens,
    ):
        self._pool = pool
        self._repositories = repositories
        self._blobs = blobs
        self._store = store
        self._page_tokens = page_tokens

    # ----- reading -------------------------------------------------------------------------

    async def _refs(self, conn: AsyncConnection, repo_id: str, kind: str | None = None) -> list[Ref]:
        query = (
            "SELECT kind, name, commit_id, message, created_by::text AS created_by, created_at, updated_at"
            " FROM vcs.refs WHERE repo_id = %s"
        )
        params: tuple = (repo_id,)
        if kind:
            query += " AND kind = %s"
            params += (kind,)
        return [Ref(**row) for row in await fetch_all(conn, query + " ORDER BY kind, name", params)]

    async def _resolve(self, conn: AsyncConnection, repo: Repository, ref: str, field: str) -> str:
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

    async def _commit(self, conn: AsyncConnection, commit_id: str) -> CommitView:
        found = await load_commits(conn, [commit_id])
        if commit_id not in found:
            raise NotFound("commit", commit_id)
        return found[commit_id]

    async def get_commit(self, principal: Principal, commit_id: str, repo_id: str = "") -> CommitView:
        if not is_blob_id(commit_id):
            raise InvalidArgument.for_field("commit_id", "must be 64 lowercase hex characters")
        async with self._pool.connection() as conn:
            if repo_id:
                await self._repositories.fetch(conn, principal, repo_id, Access.READ)
                held = await visibility.repository_holds_commit(conn, repo_id, commit_id)
            else:
                held = await visibility.readable_repository_holding_commit(conn, viewer_id(principal), commit_id)
            if not held:
                raise NotFound("commit", commit_id)
            return await self._commit(conn, commit_id)

    async def history(self, principal: Principal, repo_id: str, size: int, page_token: str) -> HistoryPage:
        size = page_size(size, default=100, maximum=500)
        scope = f"GetHistory|{repo_id}"
        async with self._pool.connection() as conn:
            await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            refs = await self._refs(conn, repo_id)
            cursor = self._page_tokens.decode(scope, page_token)
            frontier = cursor["frontier"] if cursor else sorted({r.commit_id for r in refs})
            visited, remaining = await CommitGraph(conn).walk(frontier, size)
            commits = await load_commits(conn, [node.commit_id for node in visited])
        branches = [r for r in refs if r.kind == "branch"]
        tags = [r for r in refs if r.kind == "tag"]
        nodes = [
            (
                commits[node.commit_id],
                [b.name for b in branches if b.commit_id == node.commit_id],
                [t.name for t in tags if t.commit_id == node.commit_id],
            )
            for node in visited
        ]
        token = self._page_tokens.encode(scope, {"frontier": remaining}) if remaining else ""
        return HistoryPage(nodes, branches, tags, token)

    async def log(self, principal: Principal, repo_id: str, ref: str, size: int, page_token: str):
        size = page_size(size, default=100, maximum=500)
        scope = f"GetLog|{repo_id}|{ref}"
        async with self._pool.connection() as conn:
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            cursor = self._page_tokens.decode(scope, page_token)
            frontier = cursor["frontier"] if cursor else [await self._resolve(conn, repo, ref, "ref")]
            visited, remaining = await CommitGraph(conn).walk(frontier, size)
            commits = await load_commits(conn, [node.commit_id for node in visited])
        token = self._page_tokens.encode(scope, {"frontier": remaining}) if remaining else ""
        return [commits[node.commit_id] for node in visited], token

    async def list_refs(self, principal: Principal, repo_id: str, kind: str) -> tuple[Repository, list[Ref]]:
        async with self._pool.connection() as conn:
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            return repo, await self._refs(conn, repo_id, kind)

    async def diff(self, principal: Principal, repo_id: str, base: str, head: str) -> Diff:
        async with self._pool.connection() as conn:
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            if not base:
                raise InvalidArgument.for_field("base", "must name a branch, tag or commit")
            old = await self._commit(conn, await self._resolve(conn, repo, base, "base"))
            new = await self._commit(conn, await self._resolve(conn, repo, head, "head"))
        return Diff(old, new, merging.diff_trees(old.tree, new.tree), merging.diff_metadata(old.metadata, new.metadata))

    # ----- writing -------------------------------------------------------------------------

    async def _tree(self, conn: AsyncConnection, principal: Principal, stems: list[StemSpec]) -> Tree:
        """Checks the stems of a new commit: names, and blobs that exist, are audio and the caller may use."""
        if len(stems) > MAX_STEMS:
            raise InvalidArgument.for_field("stems", f"at most {MAX_STEMS} stems")
        names = [validation.stem_name(s.name, f"stems[{i}].name") for i, s in enumerate(stems)]
        if len(set(names)) != len(names):
            raise InvalidArgument.for_field("stems", "stem names must be unique")
        for index, stem in enumerate(stems):
            if not is_blob_id(stem.blob_id):
                raise InvalidArgument.for_field(f"stems[{index}].blob_id", "must be 64 lowercase hex characters")
        usable = await self._blobs.usable_by(conn, principal, {s.blob_id for s in stems})
        missing = sorted({s.blob_id for s in stems} - usable.keys())
        for blob_id in sorted(usable.keys()):
            if not await self._store.exists(blob_id):
                missing.append(blob_id)
        if missing:
            raise FailedPrecondition(
                "stems reference blobs that do not exist or that you cannot use; upload them first",
                reason="BLOB_NOT_FOUND",
                metadata={"blob_ids": ",".join(missing)},
            )
        return {
            stem.name: TreeEntry(
                blob_id=stem.blob_id,
                size_bytes=usable[stem.blob_id].size_bytes,
                audio_format=usable[stem.blob_id].audio_format,
                duration_seconds=usable[stem.blob_id].duration_seconds,
                sample_rate=usable[stem.blob_id].sample_rate,
                channels=usable[stem.blob_id].channels,
            )
            for stem in stems
        }

    @staticmethod
    async def _write(conn: AsyncConnection, repo_id: str, content: CommitContent) -> str:
        """Stores a commit (a no-op if identical content exists) and records that this repository holds it."""
        generation = 1
        if content.parents:
            row = await fetch_one(
                conn, "SELECT max(generation) AS g FROM vcs.commits WHERE id = ANY(%s)", (list(content.parents),)
            )
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

    @staticmethod
    async def _move_branch(conn: AsyncConnection, repo_id: str, name: str, expected: str | None, new: str, user: str):
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
        head = current["commit_id"] if current else ""
        raise Aborted(
            f"branch {name!r} has moved: its head is now {head or 'absent'}; rebase your change on it",
            reason="BRANCH_MOVED",
            metadata={"branch": name, "current_head": head, "expected_head": expected or ""},
        )

    async def create_commit(
        self,
        principal: Principal,
        repo_id: str,
        *,
        branch: str,
        parent_commit_id: str,
        message: str,
        bpm: float,
        key_signature: str,
        generation_params: dict,
        stems: list[StemSpec],
        request_id: str = "",
    ) -> tuple[CommitView, str]:
        validation.bounded_text(message, "message", validation.MAX_MESSAGE_LENGTH)
        if not message.strip():
            raise InvalidArgument.for_field("message", "must not be empty")
        check_bpm(bpm)
        key_signature = normalise_key(key_signature)
        check_params(generation_params)
        idempotency.check_request_id(request_id)
        if branch:
            validation.ref_name(branch, "branch")
        if parent_commit_id and not is_blob_id(parent_commit_id):
            raise InvalidArgument.for_field("parent_commit_id", "must be 64 lowercase hex characters")
        async with self._pool.connection() as conn:
            try:
                async with conn.transaction():
                    repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
                    branch = branch or repo.default_branch
                    earlier = await idempotency.recall(conn, principal.subject_id, "CreateCommit", request_id)
                    if earlier is not None:
                        return await self._commit(conn, earlier), branch
                    head = await fetch_one(
                        conn,
                        "SELECT commit_id FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s",
                        (repo_id, branch),
                    )
                    if (
                        head is None
                        and parent_commit_id
                        and not await visibility.repository_holds_commit(conn, repo_id, parent_commit_id)
                    ):
                        raise NotFound("commit", parent_commit_id)
                    content = CommitContent(
                        parents=(parent_commit_id,) if parent_commit_id else (),
                        author_id=principal.subject_id,
                        message=message,
                        bpm=bpm,
                        key_signature=key_signature,
                        generation_params=generation_params,
                        tree=await self._tree(conn, principal, stems),
                    )
                    commit_id = await self._write(conn, repo_id, content)
                    # A new branch must still be absent; a live one must still be at the parent
                    # (an empty parent never matches a live head, so that caller learns the head).
                    expected = None if head is None else parent_commit_id
                    await self._move_branch(conn, repo_id, branch, expected, commit_id, principal.subject_id)
                    await idempotency.remember(conn, principal.subject_id, "CreateCommit", request_id, commit_id)
                    return await self._commit(conn, commit_id), branch
            except psycopg.errors.UniqueViolation as error:
                if error.diag.constraint_name != "idempotent_requests_pkey":
                    raise
        async with self._pool.connection() as conn:
            earlier = await idempotency.recall(conn, principal.subject_id, "CreateCommit", request_id)
            return await self._commit(conn, earlier), branch

    # ----- refs ----------------------------------------------------------------------------

    async def create_branch(self, principal: Principal, repo_id: str, name: str, start_point: str) -> Ref:
        validation.ref_name(name)
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            commit_id = await self._resolve(conn, repo, start_point, "start_point")
            return await self._insert_ref(conn, repo_id, "branch", name, commit_id, "", principal.subject_id)

    async def create_tag(self, principal: Principal, repo_id: str, name: str, target: str, message: str) -> Ref:
        validation.ref_name(name)
        validation.bounded_text(message, "message", validation.MAX_MESSAGE_LENGTH)
        if not target:
            raise InvalidArgument.for_field("target", "must name a branch, tag or commit")
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            commit_id = await self._resolve(conn, repo, target, "target")
            return await self._insert_ref(conn, repo_id, "tag", name, commit_id, message, principal.subject_id)

    @staticmethod
    async def _insert_ref(conn, repo_id: str, kind: str, name: str, commit_id: str, message: str, user: str) -> Ref:
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
        return Ref(**row)

    async def update_branch(self, principal: Principal, repo_id: str, name: str, new: str, expected: str) -> Ref:
        validation.ref_name(name)
        for field, value in (("new_commit_id", new), ("expected_commit_id", expected)):
            if not is_blob_id(value):
                raise InvalidArgument.for_field(field, "must be 64 lowercase hex characters")
        async with self._pool.connection() as conn, conn.transaction():
            await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            if not await self._branch_exists(conn, repo_id, name):
                raise NotFound("branch", name)
            if not await visibility.repository_holds_commit(conn, repo_id, new):
                raise NotFound("commit", new)
            await self._move_branch(conn, repo_id, name, expected, new, principal.subject_id)
            return next(r for r in await self._refs(conn, repo_id, "branch") if r.name == name)

    @staticmethod
    async def _branch_exists(conn, repo_id: str, name: str) -> bool:
        row = await fetch_one(
            conn, "SELECT 1 FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s", (repo_id, name)
        )
        return row is not None

    async def delete_ref(self, principal: Principal, repo_id: str, kind: str, name: str) -> None:
        validation.ref_name(name)
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            if kind == "branch" and name == repo.default_branch:
                raise FailedPrecondition(
                    f"{name!r} is the default branch; choose another default first", reason="DEFAULT_BRANCH"
                )
            deleted = await conn.execute(
                "DELETE FROM vcs.refs WHERE repo_id = %s AND kind = %s AND name = %s", (repo_id, kind, name)
            )
            if deleted.rowcount == 0:
                raise NotFound(kind, name)

    # ----- merge and revert ----------------------------------------------------------------

    async def merge(
        self,
        principal: Principal,
        repo_id: str,
        *,
        target_branch: str,
        source: str,
        source_repo_id: str = "",
        message: str = "",
        resolutions: dict[str, str] | None = None,
        expected_target: str = "",
    ) -> MergeOutcome:
        validation.bounded_text(message, "message", validation.MAX_MESSAGE_LENGTH)
        if not source:
            raise InvalidArgument.for_field("source", "must name a branch, tag or commit")
        if expected_target and not is_blob_id(expected_target):
            raise InvalidArgument.for_field("expected_target_commit_id", "must be 64 lowercase hex characters")
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            target_branch = target_branch or repo.default_branch
            validation.ref_name(target_branch, "target_branch")
            ours_id = await self._resolve_branch(conn, repo_id, target_branch)
            if expected_target and expected_target != ours_id:
                raise Aborted(
                    f"branch {target_branch!r} has moved",
                    reason="BRANCH_MOVED",
                    metadata={"branch": target_branch, "current_head": ours_id},
                )
            source_repo = repo
            if source_repo_id and source_repo_id != repo_id:
                source_repo = await self._repositories.fetch(conn, principal, source_repo_id, Access.READ)
            theirs_id = await self._resolve(conn, source_repo, source, "source")
            graph = CommitGraph(conn)
            bases = await graph.merge_bases(ours_id, theirs_id)
            if theirs_id in bases:
                return MergeOutcome("up_to_date", await self._commit(conn, ours_id), None)
            if source_repo is not repo:
                await self._adopt_history(conn, repo_id, theirs_id)
            if ours_id in bases:
                await self._move_branch(conn, repo_id, target_branch, ours_id, theirs_id, principal.subject_id)
                return MergeOutcome("fast_forward", await self._commit(conn, theirs_id), None)
            if len(bases) != 1:
                raise FailedPrecondition(
                    "the branches have no single merge base (unrelated or criss-cross histories)",
                    reason="NO_SINGLE_MERGE_BASE",
                    metadata={"merge_bases": ",".join(bases)},
                )
            loaded = await load_commits(conn, [bases[0], ours_id, theirs_id])
            base, ours, theirs = loaded[bases[0]], loaded[ours_id], loaded[theirs_id]
            result = merging.merge(
                (base.tree, base.metadata), (ours.tree, ours.metadata), (theirs.tree, theirs.metadata), resolutions
            )
            if not result.clean:
                return MergeOutcome("conflict", None, result)
            content = CommitContent(
                parents=(ours_id, theirs_id),
                author_id=principal.subject_id,
                message=message or f"Merge {source} into {target_branch}",
                tree=result.tree,
                **result.metadata,
            )
            commit_id = await self._write(conn, repo_id, content)
            await self._move_branch(conn, repo_id, target_branch, ours_id, commit_id, principal.subject_id)
            return MergeOutcome("merge_commit", await self._commit(conn, commit_id), result)

    async def _resolve_branch(self, conn, repo_id: str, name: str) -> str:
        row = await fetch_one(
            conn, "SELECT commit_id FROM vcs.refs WHERE repo_id = %s AND kind = 'branch' AND name = %s", (repo_id, name)
        )
        if row is None:
            raise NotFound("branch", name)
        return row["commit_id"]

    @staticmethod
    async def _adopt_history(conn, repo_id: str, head: str) -> None:
        """Commits merged in from another repository become part of this one's history."""
        await conn.execute(
            "WITH RECURSIVE walk(id) AS (SELECT %s::text UNION"
            " SELECT p.parent_id FROM walk w JOIN vcs.commit_parents p ON p.commit_id = w.id)"
            " INSERT INTO vcs.repo_commits (repo_id, commit_id) SELECT %s, id FROM walk ON CONFLICT DO NOTHING",
            (head, repo_id),
        )

    async def revert(self, principal: Principal, repo_id: str, commit_id: str, branch: str, message: str) -> CommitView:
        """A new commit on `branch` that undoes `commit_id`'s changes (three-way: base = the commit,
        ours = the branch head, theirs = the commit's parent)."""
        validation.bounded_text(message, "message", validation.MAX_MESSAGE_LENGTH)
        if not is_blob_id(commit_id):
            raise InvalidArgument.for_field("commit_id", "must be 64 lowercase hex characters")
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            branch = branch or repo.default_branch
            validation.ref_name(branch, "branch")
            head_id = await self._resolve_branch(conn, repo_id, branch)
            if not await visibility.repository_holds_commit(conn, repo_id, commit_id):
                raise NotFound("commit", commit_id)
            target = await self._commit(conn, commit_id)
            if len(target.parents) > 1:
                raise FailedPrecondition("reverting a merge commit is not supported", reason="REVERT_OF_MERGE")
            if not await CommitGraph(conn).is_ancestor(commit_id, [head_id]):
                raise FailedPrecondition(
                    f"commit {commit_id} is not in the history of {branch!r}", reason="NOT_ON_BRANCH"
                )
            head = await self._commit(conn, head_id)
            parent_tree, parent_meta = {}, {"bpm": 0.0, "key_signature": "", "generation_params": {}}
            if target.parents:
                parent = await self._commit(conn, target.parents[0])
                parent_tree, parent_meta = parent.tree, parent.metadata
            result = merging.merge(
                (target.tree, target.metadata), (head.tree, head.metadata), (parent_tree, parent_meta)
            )
            if not result.clean:
                raise FailedPrecondition(
                    "later commits changed the same stems; revert by hand",
                    reason="REVERT_CONFLICT",
                    metadata={
                        "stems": ",".join(c.name for c in result.stem_conflicts),
                        "fields": ",".join(c.field for c in result.metadata_conflicts),
                    },
                )
            first_line = target.message.splitlines()[0] if target.message else commit_id[:12]
            content = CommitContent(
                parents=(head_id,),
                author_id=principal.subject_id,
                message=message or f'Revert "{first_line}"\n\nThis reverts commit {commit_id}.',
                tree=result.tree,
                **result.metadata,
            )
            new_id = await self._write(conn, repo_id, content)
            await self._move_branch(conn, repo_id, branch, head_id, new_id, principal.subject_id)
            return await self._commit(conn, new_id)
