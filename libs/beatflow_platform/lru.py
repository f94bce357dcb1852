"""A bounded in-process cache that forgets the least recently used entries first.

For values that never go stale (they are functions of their key: content-addressed commits, pages of an
immutable history, the JSON of given response bytes), so there is no expiry, only a bound: on the number of
entries, or on a weight per entry (bytes, commits) summed over all of them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(key: object, value: object) -> int:
    return 1


class LruCache(Generic[K, V]):
    def __init__(self, max_weight: int, weight: Callable[[K, V], int] = _one):
        """Holds entries whose weights (1 each unless `weight(key, value)` says otherwise) sum to at most
        `max_weight`."""
        self._max_weight = max_weight
        self._weight = weight
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._total = 0

    def get(self, key: K) -> V | None:
        """The value kept for `key` (now the most recently used), None when there is none."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V) -> None:
        """Keeps `value` for `key`, forgetting the least recently used entries beyond the bound. A value
        heavier than the whole bound is not kept: it would push out everything else."""
        weight = self._weight(key, value)
        if weight > self._max_weight:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._total -= previous[1]
        self._entries[key] = (value, weight)
        self._total += weight
        while self._total > self._max_weight:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._total -= evicted

    def __len__(self) -> int:
        return len(self._entries)
