"""Walking the commit DAG in PostgreSQL with few round trips.

Commits are visited newest-first in topological order: by generation (1 + the largest parent
generation, so every child comes before its parents), then time, then id. The walk keeps a
heap of not-yet-visited commits (the frontier); a page token stores that frontier, so the
next page resumes exactly where this one stopped. Ancestors are fetched in batches by one
recursive query whose LIMIT PostgreSQL honours lazily; its joins are LATERAL subqueries so that
every step is an index lookup whatever the planner's statistics say (a hash join over the
whole parents table per step made a 10,000-commit page cost ~180 ms instead of ~3 ms).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from beatflow_platform.db.pool import DictConnection
from beatflow_platform.db.queries import fetch_all

_ANCESTORS = """
WITH RECURSIVE walk(id) AS (
    SELECT unnest(%(ids)s::text[])
    UNION
    SELECT p.parent_id FROM walk w
    CROSS JOIN LATERAL (SELECT parent_id FROM vcs.commit_parents WHERE commit_id = w.id OFFSET 0) p
)
SELECT c.id, c.generation, c.created_at,
       ARRAY(SELECT parent_id FROM vcs.commit_parents WHERE commit_id = c.id ORDER BY position) AS parents
FROM (SELECT id FROM walk LIMIT %(limit)s) w
CROSS JOIN LATERAL (SELECT id, generation, created_at FROM vcs.commits WHERE id = w.id OFFSET 0) c
"""


@dataclass(frozen=True)
class Node:
    commit_id: str
    generation: int
    created_at: datetime
    parents: tuple[str, ...]

    @property
    def order(self) -> tuple:
        """Heap key: the smallest key is the next commit to visit."""
        return (-self.generation, -self.created_at.timestamp(), _descending(self.commit_id))


class _DescendingCodePoints(dict):
    """str.translate table mapping each code point c to 0x10FFFF - c (filled as characters are met), so that
    a text's image sorts in reverse; translate runs in C, a per-character generator cost ~20 us per commit id."""

    def __missing__(self, code_point: int) -> int:
        self[code_point] = image = 0x10FFFF - code_point
        return image


_DESCENDING = _DescendingCodePoints()


def _descending(text: str) -> str:
    return text.translate(_DESCENDING)


class CommitGraph:
    def __init__(self, conn: DictConnection, batch: int = 256):
        self._conn = conn
        self._batch = batch
        self._nodes: dict[str, Node] = {}

    async def nodes(self, ids: Collection[str], prefetch: int = 0) -> dict[str, Node]:
        """The nodes of `ids` (unknown ids are left out), prefetching their ancestors: `prefetch` nodes in all
        (the graph's batch when 0), at least twice as many as are missing."""
        missing = [i for i in ids if i not in self._nodes]
        if missing:
            limit = max(prefetch or self._batch, 2 * len(missing))
            rows = await fetch_all(self._conn, _ANCESTORS, {"ids": missing, "limit": limit})
            for row in rows:
                self._nodes[row["id"]] = Node(row["id"], row["generation"], row["created_at"], tuple(row["parents"]))
        return {i: self._nodes[i] for i in ids if i in self._nodes}

    async def walk(self, frontier: list[str], limit: int) -> tuple[list[Node], list[str]]:
        """Visits up to `limit` commits from `frontier`; returns them and the frontier left after them.

        Prefetches about what the page needs (its commits and the parents left on the frontier), not a whole
        batch: in a linear history one query of `limit` + 1 rows instead of several times that."""
        page = limit + len(frontier)
        heap = [(node.order, node.commit_id) for node in (await self.nodes(set(frontier), page)).values()]
        heapq.heapify(heap)
        queued = {commit_id for _, commit_id in heap}
        visited: list[Node] = []
        while heap and len(visited) < limit:
            _, commit_id = heapq.heappop(heap)
            queued.discard(commit_id)
            node = self._nodes[commit_id]
            visited.append(node)
            parents = [p for p in node.parents if p not in queued]
            for parent in (await self.nodes(parents, page)).values():
                heapq.heappush(heap, (parent.order, parent.commit_id))
                queued.add(parent.commit_id)
        return visited, [commit_id for _, commit_id in sorted(heap)]

    async def merge_bases(self, ours: str, theirs: str) -> list[str]:
        """The best common ancestors of two commits (usually one), as in git's merge-base.

        Paints ancestors of each side in generation order; a commit painted by both is a common
        ancestor, and its own ancestors are marked stale so only the best ones are reported.
        """
        OURS, THEIRS, STALE = 1, 2, 4
        flags: dict[str, int] = {}
        nodes = await self.nodes({ours, theirs})
        heap = []
        for commit_id, flag in ((ours, OURS), (theirs, THEIRS)):
            flags[commit_id] = flags.get(commit_id, 0) | flag
            heapq.heappush(heap, (nodes[commit_id].order, commit_id))
        bases: list[str] = []
        while any(not flags[c] & STALE for _, c in heap):
            _, commit_id = heapq.heappop(heap)
            if heap and heap[0][1] == commit_id:
                continue
            flag = flags[commit_id]
            if flag & (OURS | THEIRS) == OURS | THEIRS and not flag & STALE:
                bases.append(commit_id)
                flag |= STALE
                flags[commit_id] = flag
            node = self._nodes[commit_id]
            for parent in (await self.nodes(node.parents)).values():
                before = flags.get(parent.commit_id)
                flags[parent.commit_id] = (before or 0) | flag
                if before is None or flags[parent.commit_id] != before:
                    heapq.heappush(heap, (parent.order, parent.commit_id))
        # A base reached from another base is not a best one.
        best = []
        for base in bases:
            others = [b for b in bases if b != base]
            if not others or not await self.is_ancestor(base, others):
                best.append(base)
        return best

    async def is_ancestor(self, candidate: str, descendants: list[str]) -> bool:
        """Whether `candidate` is reachable from any of `descendants` (a commit is its own ancestor)."""
        target = (await self.nodes({candidate})).get(candidate)
        if target is None:
            return False
        heap = [(n.order, n.commit_id) for n in (await self.nodes(set(descendants))).values()]
        heapq.heapify(heap)
        seen = {c for _, c in heap}
        while heap:
            _, commit_id = heapq.heappop(heap)
            if commit_id == candidate:
                return True
            node = self._nodes[commit_id]
            if node.generation <= target.generation:
                continue
            for parent in (await self.nodes([p for p in node.parents if p not in seen])).values():
                seen.add(parent.commit_id)
                heapq.heappush(heap, (parent.order, parent.commit_id))
        return False
