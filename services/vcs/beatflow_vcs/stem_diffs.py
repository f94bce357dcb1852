"""The musical part of a diff: reads two takes of a stem from the object store and compares their audio.

Decoding and comparing are CPU work: they run in worker threads, at most `concurrency` at a time,
and results are kept in a small LRU cache keyed by the two blobs and tempi (blobs are immutable).
"""

from __future__ import annotations

import asyncio

import numpy as np

from beatflow_audio import codec
from beatflow_platform.lru import LruCache
from beatflow_platform.objectstore import ObjectStore
from beatflow_vcs import audio_diff, diff_picture
from beatflow_vcs.commits import TreeEntry

_CACHE_ENTRIES = 256


class StemDiffs:
    def __init__(self, store: ObjectStore, *, max_audio_seconds: float, concurrency: int = 1):
        self._store = store
        self._max_audio_seconds = max_audio_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._cache: LruCache[tuple, list[audio_diff.ChangedRange]] = LruCache(_CACHE_ENTRIES)

    def comparable(self, *takes: TreeEntry) -> bool:
        """Whether the takes are short enough to decode and compare (longer ones are reported as not compared)."""
        return all(take.duration_seconds <= self._max_audio_seconds for take in takes)

    async def ranges(
        self, old: TreeEntry, new: TreeEntry, base_bpm: float, head_bpm: float
    ) -> list[audio_diff.ChangedRange]:
        key = (old.blob_id, new.blob_id, base_bpm, head_bpm)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        (base, base_rate), (head, head_rate) = await self._decode(old), await self._decode(new)
        async with self._slots:
            ranges = await asyncio.to_thread(
                audio_diff.changed_ranges, base, base_rate, head, head_rate, base_bpm=base_bpm, head_bpm=head_bpm
            )
        self._cache.put(key, ranges)
        return ranges

    async def picture(
        self,
        old: TreeEntry | None,
        new: TreeEntry | None,
        ranges: list[audio_diff.ChangedRange],
        size: tuple[int, int],
        title: str,
    ) -> bytes:
        base = await self._decode(old) if old else None
        head = await self._decode(new) if new else None
        async with self._slots:
            return await asyncio.to_thread(diff_picture.render_png, base, head, ranges, size=size, title=title)

    async def _decode(self, entry: TreeEntry) -> tuple[np.ndarray, int]:
        """The take's samples; any that are not finite numbers (a float file a faulty plug-in wrote) count as silence:
        a diff shows what can be heard, and one bad take must not stop a diff or a comment list."""
        data = b"".join([chunk async for chunk in self._store.read(entry.blob_id)])
        samples, rate = await asyncio.to_thread(codec.decode, data, finite_only=False)
        return codec.silenced_where_not_finite(samples), rate
