"""Writing history: new commits and branch and tag changes.

Every write happens in one transaction that ends by moving a ref with compare-and-swap
(UPDATE ... WHERE commit_id = expected): of two racing writers exactly one wins and the
other is ABORTED with the current head, and the loser leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from beatflow_platform import naming
from beatflow_platform.auth import Principal
from beatflow_platform.db.queries import fetch_one
from beatflow_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from beatflow_platform.objectstore import ObjectStore, is_blob_id
from beatflow_vcs import idempotency, validation, visibility
from beatflow_vcs.blobs import Blobs
from beatflow_vcs.commits import CommitContent, Tree, TreeEntry, check_bpm, check_params, normalise_key
from beatflow_vcs.repositories import Access, Repositories
from beatflow_vcs.store import (
    CommitView,
    Ref,
    branch_exists,
    insert_ref,
    list_refs,
    load_commit,
    move_branch,
    resolve,
    write_commit,
)


@dataclass(frozen=True)
class StemSpec:
    name: str
    blob_id: str


class VersionControl:
    def __init__(self, pool: AsyncConnectionPool, repositories: Repositories, blobs: Blobs, store: ObjectStore):
        self._pool = pool
        self._repositories = repositories
        self._blobs = blobs
        self._store = store

    async def _tree(self, conn: AsyncConnection, principal: Principal, stems: list[StemSpec]) -> Tree:
        """Checks the stems of a new commit: names, and blobs that exist, are audio and the caller may use."""
        if len(stems) > naming.MAX_STEMS_PER_COMMIT:
            raise InvalidArgument.for_field("stems", f"at most {naming.MAX_STEMS_PER_COMMIT} stems")
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
        validation.bounded_text(message, "message", naming.MAX_MESSAGE_LENGTH)
        if not naming.matches(naming.NON_BLANK_TEXT, message):
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
                        return await load_commit(conn, earlier), branch
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
                    commit_id = await write_commit(conn, repo_id, content)
                    # A new branch must still be absent; a live one must still be at the parent
                    # (an empty parent never matches a live head, so that caller learns the head).
                    expected = None if head is None else parent_commit_id
                    await move_branch(conn, repo_id, branch, expected, commit_id, principal.subject_id)
                    await idempotency.remember(conn, principal.subject_id, "CreateCommit", request_id, commit_id)
                    return await load_commit(conn, commit_id), branch
            except psycopg.errors.UniqueViolation as error:
                if error.diag.constraint_name != "idempotent_requests_pkey":
                    raise
        async with self._pool.connection() as conn:
            earlier = await idempotency.recall(conn, principal.subject_id, "CreateCommit", request_id)
            return await load_commit(conn, earlier), branch

    async def create_branch(self, principal: Principal, repo_id: str, name: str, start_point: str) -> Ref:
        validation.ref_name(name)
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            commit_id = await resolve(conn, repo, start_point, "start_point")
            return await insert_ref(conn, repo_id, "branch", name, commit_id, "", principal.subject_id)

    async def create_tag(self, principal: Principal, repo_id: str, name: str, target: str, message: str) -> Ref:
        validation.ref_name(name)
        validation.bounded_text(message, "message", naming.MAX_MESSAGE_LENGTH)
        if not target:
            raise InvalidArgument.for_field("target", "must name a branch, tag or commit")
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            commit_id = await resolve(conn, repo, target, "target")
            return await insert_ref(conn, repo_id, "tag", name, commit_id, message, principal.subject_id)

    async def update_branch(self, principal: Principal, repo_id: str, name: str, new: str, expected: str) -> Ref:
        validation.ref_name(name)
        for field, value in (("new_commit_id", new), ("expected_commit_id", expected)):
            if not is_blob_id(value):
                raise InvalidArgument.for_field(field, "must be 64 lowercase hex characters")
        async with self._pool.connection() as conn, conn.transaction():
            await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            if not await branch_exists(conn, repo_id, name):
                raise NotFound("branch", name)
            if not await visibility.repository_holds_commit(conn, repo_id, new):
                raise NotFound("commit", new)
            await move_branch(conn, repo_id, name, expected, new, principal.subject_id)
            return next(r for r in await list_refs(conn, repo_id, "branch") if r.name == name)

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
