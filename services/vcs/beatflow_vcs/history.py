"""Reading a repository's history: commits, the DAG page by page, logs, refs and diffs."""

from __future__ import annotations

from dataclasses import dataclass

from beatflow_platform.auth import Principal
from beatflow_platform.db.pool import DictConnection, DictPool
from beatflow_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from beatflow_platform.pagination import PageTokens, page_size
from beatflow_vcs import merging, visibility
from beatflow_vcs.audio_diff import ChangedRange
from beatflow_vcs.graph import CommitGraph
from beatflow_vcs.history_pages import HistoryPages, Page
from beatflow_vcs.repositories import Access, Repositories, Repository, viewer_id
from beatflow_vcs.stem_diffs import StemDiffs
from beatflow_vcs.store import CommitView, Ref, list_refs, load_commit, load_commits, resolve

DEFAULT_PICTURE_SIZE = (1200, 360)


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
    # Changed time ranges of the modified stems whose audio was compared, by stem name.
    ranges: dict[str, list[ChangedRange]]


class History:
    def __init__(
        self,
        pool: DictPool,
        repositories: Repositories,
        page_tokens: PageTokens,
        stem_diffs: StemDiffs,
        pages: HistoryPages | None = None,
    ):
        self._pool = pool
        self._repositories = repositories
        self._page_tokens = page_tokens
        self._stem_diffs = stem_diffs
        self._pages = pages or HistoryPages()

    async def get_commit(self, principal: Principal, commit_id: str, repo_id: str = "") -> CommitView:
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
            page = await self._page(conn, frontier, size)
        branches = [r for r in refs if r.kind == "branch"]
        tags = [r for r in refs if r.kind == "tag"]
        nodes = [
            (
                commit,
                [b.name for b in branches if b.commit_id == commit.commit_id],
                [t.name for t in tags if t.commit_id == commit.commit_id],
            )
            for commit in page.commits
        ]
        return HistoryPage(nodes, branches, tags, self._token(scope, page))

    async def log(self, principal: Principal, repo_id: str, ref: str, size: int, page_token: str):
        size = page_size(size, default=100, maximum=500)
        scope = f"GetLog|{repo_id}|{ref}"
        async with self._pool.connection() as conn:
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            cursor = self._page_tokens.decode(scope, page_token)
            frontier = cursor["frontier"] if cursor else [await resolve(conn, repo, ref, "ref")]
            page = await self._page(conn, frontier, size)
        return list(page.commits), self._token(scope, page)

    async def _page(self, conn: DictConnection, frontier: list[str], size: int) -> Page:
        """`size` commits from `frontier`, newest first. Only after the caller's access check: see history_pages."""

        async def read() -> Page:
            visited, remaining = await CommitGraph(conn).walk(frontier, size)
            commits = await load_commits(conn, [node.commit_id for node in visited])
            return Page(tuple(commits[node.commit_id] for node in visited), tuple(remaining))

        return await self._pages.get(frontier, size, read)

    def _token(self, scope: str, page: Page) -> str:
        return self._page_tokens.encode(scope, {"frontier": list(page.remaining)}) if page.remaining else ""

    async def refs(self, principal: Principal, repo_id: str, kind: str) -> tuple[Repository, list[Ref]]:
        async with self._pool.connection() as conn:
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            return repo, await list_refs(conn, repo_id, kind)

    async def diff(self, principal: Principal, repo_id: str, base: str, head: str, *, audio: bool = True) -> Diff:
        """Stems added, removed and modified, metadata changes, and (with `audio`) where modified stems changed."""
        old, new = await self._commits(principal, repo_id, base, head)
        changes = merging.diff_trees(old.tree, new.tree)
        ranges = {}
        if audio:
            for change in changes:
                if change.change == merging.Change.MODIFIED and self._stem_diffs.comparable(
                    old.tree[change.name], new.tree[change.name]
                ):
                    ranges[change.name] = await self._stem_diffs.ranges(
                        old.tree[change.name], new.tree[change.name], old.bpm, new.bpm
                    )
        return Diff(old, new, changes, merging.diff_metadata(old.metadata, new.metadata), ranges)

    async def diff_picture(
        self, principal: Principal, repo_id: str, base: str, head: str, stem: str, size: tuple[int, int]
    ) -> tuple[Diff, bytes]:
        """A PNG of one stem in both commits with its changed ranges (FAILED_PRECONDITION past the length limit)."""
        size = (size[0] or DEFAULT_PICTURE_SIZE[0], size[1] or DEFAULT_PICTURE_SIZE[1])
        old, new = await self._commits(principal, repo_id, base, head)
        before, after = old.tree.get(stem), new.tree.get(stem)
        if before is None and after is None:
            raise NotFound("stem", stem)
        if not self._stem_diffs.comparable(*(take for take in (before, after) if take)):
            raise FailedPrecondition(f"stem '{stem}' is longer than the diff limit", reason="STEM_TOO_LONG_TO_DIFF")
        ranges = []
        if before and after and before.blob_id != after.blob_id:
            ranges = await self._stem_diffs.ranges(before, after, old.bpm, new.bpm)
        diff = Diff(old, new, [], [], {stem: ranges})
        title = f"{stem}: {old.commit_id[:10]} -> {new.commit_id[:10]}"
        return diff, await self._stem_diffs.picture(before, after, ranges, size, title)

    async def _commits(self, principal: Principal, repo_id: str, base: str, head: str):
        async with self._pool.connection() as conn:
            repo = await self._repositories.fetch(conn, principal, repo_id, Access.READ)
            if not base:
                raise InvalidArgument.for_field("base", "must name a branch, tag or commit")
            old = await load_commit(conn, await resolve(conn, repo, base, "base"))
            new = await load_commit(conn, await resolve(conn, repo, head, "head"))
        return old, new
