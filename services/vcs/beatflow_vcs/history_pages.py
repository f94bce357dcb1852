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

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

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
        self._max_commits = max_commits
        self._pages: OrderedDict[PageKey, Page] = OrderedDict()
        self._commits = 0

    async def get(self, frontier: Sequence[str], size: int, read: Callable[[], Awaitable[Page]]) -> Page:
        """The page of `size` commits from `frontier`: the cached one, or `read()`'s, then cached."""
        key = (tuple(frontier), size)
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
            return page
        page = await read()
        self._put(key, page)
        return page

    def _put(self, key: PageKey, page: Page) -> None:
        if key in self._pages or len(page.commits) > self._max_commits:
            return  # a concurrent reader cached it first, or it would push out everything
        self._pages[key] = page
        self._commits += len(page.commits)
        while self._commits > self._max_commits:
            _, evicted = self._pages.popitem(last=False)
            self._commits -= len(evicted.commits)

    def __len__(self) -> int:
        return len(self._pages)
