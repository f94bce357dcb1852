"""Pages of the commit DAG, kept in process: a page never changes once read.

Commits are immutable and content addressed, and a commit's parents are part of its content, so the
commits a walk visits from a frontier (a set of commit ids) and the frontier it leaves are a function of
that frontier and the page size alone. A page is therefore cached by (frontier, size) with no invalidation:
a new commit or a moved ref gives a new frontier, hence a new key. Callers look a page up only after their
access check on the repository whose refs (or signed page token) gave the frontier, so the cache never decides
who may read what; a fork whose refs name the same commits shares their pages.

The cache is bounded by the number of commits it holds (pages of any size), least recently used first out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from beatflow_platform.lru import LruCache
from beatflow_vcs.store import CommitView

# Commit views held at most, over all pages.
DEFAULT_MAX_COMMITS = 10_000


@dataclass(frozen=True)
class Page:
    """The commits of one page, in walk order, and the frontier left after them (empty: the history ends)."""

    commits: tuple[CommitView, ...]
    remaining: tuple[str, ...]


PageKey = tuple[tuple[str, ...], int]


class HistoryPages:
    def __init__(self, max_commits: int = DEFAULT_MAX_COMMITS):
        self._pages: LruCache[PageKey, Page] = LruCache(max_commits, weight=lambda _, page: len(page.commits))

    async def get(self, frontier: Sequence[str], size: int, read: Callable[[], Awaitable[Page]]) -> Page:
        """The page of `size` commits from `frontier`: the cached one, or `read()`'s, then cached."""
        key = (tuple(frontier), size)
        page = self._pages.get(key)
        if page is None:
            page = await read()
            self._pages.put(key, page)  # a concurrent reader's equal page may be replaced: pages never change
        return page

    def __len__(self) -> int:
        return len(self._pages)
