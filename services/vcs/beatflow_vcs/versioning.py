"""Writing history: new commits and branch and tag changes.

Every write happens in one transaction that ends by moving a ref with compare-and-swap
(UPDATE ... WHERE commit_id = expected). A commit locks its branch head first: commits that
name no parent queue up and each builds on the one before; a commit that names the head it
expects is ABORTED with the current head when another landed first, and leaves nothing behind.
The object store is asked whether the stems' blobs exist before the transaction opens (objects
are written before their rows and never deleted while referenced), and blob rows are read in one query.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import psycopg

from beatflow_platform.auth import Principal
from beatflow_platform.db.pool import DictConnection, DictPool
from beatflow_platform.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from beatflow_platform.objectstore import ObjectStore
from beatflow_vcs import edits, idempotency, validation, visibility
from beatflow_vcs.blobs import Blobs
from beatflow_vcs.commits import CommitContent, Tree, TreeEntry, check_bpm, check_params, normalise_key
from beatflow_vcs.edits import CommitEdit, Metadata, StemSpec
from beatflow_vcs.repositories import Access, Repositories
from beatflow_vcs.store import (
    CommitView,
    Ref,
    branch_exists,
    branch_moved,
    insert_ref,
    list_refs,
    load_commit,
    lock_branch_head,
    move_branch,
    resolve,
    write_commit,
)


class VersionControl:
    def __init__(
        self,
        pool: DictPool,
        repositories: Repositories,
        blobs: Blobs,
        store: ObjectStore,
        *,
        request_ttl: timedelta,
    ):
        self._pool = pool
        self._repositories = repositories
        self._blobs = blobs
        self._store = store
        self._request_ttl = request_ttl

    async def _absent_from_store(self, stems: tuple[StemSpec, ...]) -> set[str]:
        """Blob ids of `stems` the object store lacks, asked all at once and before any transaction opens."""
        blob_ids = sorted({stem.blob_id for stem in stems})
        found = await asyncio.gather(*(self._store.exists(blob_id) for blob_id in blob_ids))
        return {blob_id for blob_id, exists in zip(blob_ids, found, strict=True) if not exists}

    async def _entries(
        self, conn: DictConnection, principal: Principal, stems: tuple[StemSpec, ...], absent: set[str]
    ) -> Tree:
        """Tree entries for the stems a commit puts: blobs that exist, are audio and the caller may use."""
        usable = await self._blobs.usable_by(conn, principal, {s.blob_id for s in stems})
        missing = sorted(({s.blob_id for s in stems} - usable.keys()) | absent)
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
        edit: CommitEdit,
        request_id: str = "",
    ) -> tuple[CommitView, str]:
        """Commits `edit` on the branch head, or on `parent_commit_id` if it still is the head (else ABORTED)."""
        check_bpm(edit.bpm)
        edit = replace(edit, key_signature=normalise_key(edit.key_signature))
        check_params(edit.generation_params or {})
        edits.check_shape(edit)
        if branch:
            validation.ref_name(branch, "branch")
        absent = await self._absent_from_store(edit.stems)
        # Without an expected parent, the only write that can fail is a first commit that a racing
        # first commit beat to the new branch: the second round builds on that commit instead.
        for attempt in range(2):
            try:
                return await self._commit_once(
                    principal, repo_id, branch, parent_commit_id, message, edit, request_id, absent
                )
            except Aborted:
                if parent_commit_id or attempt:
                    raise
            except psycopg.errors.UniqueViolation as error:
                if error.diag.constraint_name != "idempotent_requests_pkey":
                    raise
                # A concurrent call with the same request id won: the next round returns its commit.
        # Both rounds lost a race (a twin request after a racing first commit): one more, which finds either.
        return await self._commit_once(principal, repo_id, branch, parent_commit_id, message, edit, request_id, absent)

    async def _commit_once(
        self,
        principal: Principal,
        repo_id: str,
        branch: str,
        expected: str,
        message: str,
        edit: CommitEdit,
        request_id: str,
        absent: set[str],
    ) -> tuple[CommitView, str]:
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            branch = branch or repo.default_branch
            earlier = await idempotency.recall(
                conn, principal.subject_id, "CreateCommit", request_id, self._request_ttl
            )
            if earlier is not None:
                return await load_commit(conn, earlier), branch
            head = await lock_branch_head(conn, repo_id, branch)
            if head is not None and expected and expected != head:
                raise branch_moved(branch, head, expected)
            if head is None and expected and not await visibility.repository_holds_commit(conn, repo_id, expected):
                raise NotFound("commit", expected)
            parent_id = head or expected
            parent = await load_commit(conn, parent_id) if parent_id else None
            parent_tree = parent.tree if parent else {}
            edits.check_removals(edit, parent_tree)
            tree = edits.edited_tree(parent_tree, await self._entries(conn, principal, edit.stems, absent), edit)
            inherited = Metadata(parent.bpm, parent.key_signature, parent.generation_params) if parent else None
            metadata = edits.edited_metadata(inherited, edit)
            content = CommitContent(
                parents=(parent_id,) if parent_id else (),
                author_id=principal.subject_id,
                message=message,
                bpm=metadata.bpm,
                key_signature=metadata.key_signature,
                generation_params=metadata.generation_params,
                tree=tree,
            )
            commit_id = await write_commit(conn, repo_id, content)
            # A new branch must still be absent (a racing first commit makes this ABORTED).
            await move_branch(conn, repo_id, branch, head, commit_id, principal.subject_id)
            await idempotency.remember(conn, principal.subject_id, "CreateCommit", request_id, commit_id)
            return await load_commit(conn, commit_id), branch

    async def create_branch(self, principal: Principal, repo_id: str, name: str, start_point: str) -> Ref:
        validation.ref_name(name)
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            commit_id = await resolve(conn, repo, start_point, "start_point")
            return await insert_ref(conn, repo_id, "branch", name, commit_id, "", principal.subject_id)

    async def create_tag(self, principal: Principal, repo_id: str, name: str, target: str, message: str) -> Ref:
        validation.ref_name(name)
        if not target:
            raise InvalidArgument.for_field("target", "must name a branch, tag or commit")
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            commit_id = await resolve(conn, repo, target, "target")
            return await insert_ref(conn, repo_id, "tag", name, commit_id, message, principal.subject_id)

    async def update_branch(self, principal: Principal, repo_id: str, name: str, new: str, expected: str) -> Ref:
        validation.ref_name(name)
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
