"""Merging a ref into a branch (three-way, stems changed on both sides spliced by time range) and reverting a commit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from beatflow_platform.auth import Principal
from beatflow_platform.db.pool import DictPool
from beatflow_platform.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from beatflow_vcs import merging, validation, visibility
from beatflow_vcs.commits import CommitContent
from beatflow_vcs.graph import CommitGraph
from beatflow_vcs.repositories import Access, Repositories
from beatflow_vcs.stem_merges import StemMerges
from beatflow_vcs.store import (
    CommitView,
    adopt_history,
    load_commit,
    load_commits,
    move_branch,
    resolve,
    resolve_branch,
    write_commit,
)


@dataclass(frozen=True)
class MergeOutcome:
    outcome: str  # "up_to_date", "fast_forward", "merge_commit" or "conflict"
    commit: CommitView | None
    result: merging.MergeResult | None
    range_conflicts: list[merging.RangeConflict] = field(default_factory=list)
    splices: list[merging.StemSplice] = field(default_factory=list)


class Merges:
    def __init__(self, pool: DictPool, repositories: Repositories, stem_merges: StemMerges):
        self._pool = pool
        self._repositories = repositories
        self._stem_merges = stem_merges

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
        range_choices: list[merging.RangeChoice] | None = None,
        expected_target: str = "",
    ) -> MergeOutcome:
        """Fast-forward, or a three-way merge whose stems changed on both sides are spliced by time range.

        The audio work happens outside any transaction; the merge commit then lands by compare-and-swap
        on the head it was computed from (ABORTED, BRANCH_MOVED if the branch moved meanwhile)."""
        if not source:
            raise InvalidArgument.for_field("source", "must name a branch, tag or commit")
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            target_branch = target_branch or repo.default_branch
            validation.ref_name(target_branch, "target_branch")
            ours_id = await resolve_branch(conn, repo_id, target_branch)
            if expected_target and expected_target != ours_id:
                raise Aborted(
                    f"branch {target_branch!r} has moved",
                    reason="BRANCH_MOVED",
                    metadata={"branch": target_branch, "current_head": ours_id},
                )
            source_repo = repo
            if source_repo_id and source_repo_id != repo_id:
                source_repo = await self._repositories.fetch(conn, principal, source_repo_id, Access.READ)
            theirs_id = await resolve(conn, source_repo, source, "source")
            graph = CommitGraph(conn)
            bases = await graph.merge_bases(ours_id, theirs_id)
            if theirs_id in bases:
                return MergeOutcome("up_to_date", await load_commit(conn, ours_id), None)
            if ours_id in bases:
                if source_repo is not repo:
                    await adopt_history(conn, repo_id, theirs_id)
                await move_branch(conn, repo_id, target_branch, ours_id, theirs_id, principal.subject_id)
                return MergeOutcome("fast_forward", await load_commit(conn, theirs_id), None)
            if len(bases) != 1:
                raise FailedPrecondition(
                    "the branches have no single merge base (unrelated or criss-cross histories)",
                    reason="NO_SINGLE_MERGE_BASE",
                    metadata={"merge_bases": ",".join(bases)},
                )
            loaded = await load_commits(conn, [bases[0], ours_id, theirs_id])
        base, ours, theirs = loaded[bases[0]], loaded[ours_id], loaded[theirs_id]
        from_repo = f" of {source_repo.owner_username}/{source_repo.name}" if source_repo is not repo else ""
        result = merging.merge(
            (base.tree, base.metadata), (ours.tree, ours.metadata), (theirs.tree, theirs.metadata), resolutions
        )
        planned = await self._stem_merges.plan(
            principal, base, ours, theirs, result.stem_conflicts, range_choices or []
        )
        result = dataclasses.replace(result, stem_conflicts=planned.stem_conflicts)
        if not result.clean:
            return MergeOutcome("conflict", None, result, planned.range_conflicts)
        spliced, splices = await self._stem_merges.write(principal, planned.spliced)
        content = CommitContent(
            parents=(ours_id, theirs_id),
            author_id=principal.subject_id,
            message=message or f"Merge {source}{from_repo} into {target_branch}",
            tree={**result.tree, **spliced},
            **result.metadata,
        )
        async with self._pool.connection() as conn, conn.transaction():
            await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            if source_repo is not repo:
                await adopt_history(conn, repo_id, theirs_id)
            commit_id = await write_commit(conn, repo_id, content)
            await move_branch(conn, repo_id, target_branch, ours_id, commit_id, principal.subject_id)
            return MergeOutcome("merge_commit", await load_commit(conn, commit_id), result, [], splices)

    async def revert(self, principal: Principal, repo_id: str, commit_id: str, branch: str, message: str) -> CommitView:
        """A new commit on `branch` that undoes `commit_id`'s changes (three-way: base = the commit,
        ours = the branch head, theirs = the commit's parent)."""
        async with self._pool.connection() as conn, conn.transaction():
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.WRITE)
            branch = branch or repo.default_branch
            validation.ref_name(branch, "branch")
            head_id = await resolve_branch(conn, repo_id, branch)
            if not await visibility.repository_holds_commit(conn, repo_id, commit_id):
                raise NotFound("commit", commit_id)
            target = await load_commit(conn, commit_id)
            if len(target.parents) > 1:
                raise FailedPrecondition("reverting a merge commit is not supported", reason="REVERT_OF_MERGE")
            if not await CommitGraph(conn).is_ancestor(commit_id, [head_id]):
                raise FailedPrecondition(
                    f"commit {commit_id} is not in the history of {branch!r}", reason="NOT_ON_BRANCH"
                )
            head = await load_commit(conn, head_id)
            parent_tree, parent_meta = {}, {"bpm": 0.0, "key_signature": "", "generation_params": {}}
            if target.parents:
                parent = await load_commit(conn, target.parents[0])
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
            new_id = await write_commit(conn, repo_id, content)
            await move_branch(conn, repo_id, branch, head_id, new_id, principal.subject_id)
            return await load_commit(conn, new_id)
