"""Reading a repository's history: commits, the DAG page by page, logs, refs and diffs."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from beatflow_platform.auth import Principal
from beatflow_platform.errors import InvalidArgument, NotFound
from beatflow_platform.objectstore import is_blob_id
from beatflow_platform.pagination import PageTokens, page_size
from beatflow_vcs import merging, visibility
from beatflow_vcs.graph import CommitGraph
from beatflow_vcs.repositories import Access, Repositories, Repository, viewer_id
from beatflow_vcs.store import CommitView, Ref, list_refs, load_commit, load_commits, resolve


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


class History:
    def __init__(self, pool: AsyncConnectionPool, repositories: Repositories, page_tokens: PageTokens):
        self._pool = pool
        self._repositories = repositories
        self._page_tokens = page_tokens

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
            return await load_commit(conn, commit_id)

    async def history(self, principal: Principal, repo_id: str, size: int, page_token: str) -> HistoryPage:
        size = page_size(size, default=100, maximum=500)
        scope = f"GetHistory|{repo_id}"
        async with self._pool.connection() as conn:
            await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            refs = await list_refs(conn, repo_id)
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
            frontier = cursor["frontier"] if cursor else [await resolve(conn, repo, ref, "ref")]
            visited, remaining = await CommitGraph(conn).walk(frontier, size)
            commits = await load_commits(conn, [node.commit_id for node in visited])
        token = self._page_tokens.encode(scope, {"frontier": remaining}) if remaining else ""
        return [commits[node.commit_id] for node in visited], token

    async def refs(self, principal: Principal, repo_id: str, kind: str) -> tuple[Repository, list[Ref]]:
        async with self._pool.connection() as conn:
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            return repo, await list_refs(conn, repo_id, kind)

    async def diff(self, principal: Principal, repo_id: str, base: str, head: str) -> Diff:
        async with self._pool.connection() as conn:
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            if not base:
                raise InvalidArgument.for_field("base", "must name a branch, tag or commit")
            old = await load_commit(conn, await resolve(conn, repo, base, "base"))
            new = await load_commit(conn, await resolve(conn, repo, head, "head"))
        return Diff(old, new, merging.diff_trees(old.tree, new.tree), merging.diff_metadata(old.metadata, new.metadata))
