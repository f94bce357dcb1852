"""Merging stems both sides changed by time range: decode, compare each side with the base, splice, store.

`plan` decodes the three takes of each such stem, finds what each side changed (`audio_diff`),
plans the splice (`range_merge`) and, without conflicts, splices and encodes it as FLAC (24-bit when
a source used has more than 16 bits, else 16-bit; the base's rate and channels). Stems it cannot
merge by time (one side removed it, an edit inserted or deleted time, the takes' rates, channels or
lengths differ, too long to compare) stay stem conflicts with the reason. `write` uploads the
spliced stems as blobs once the whole merge is known to be clean. Decoding, comparing and splicing
are CPU work: they run in worker threads, `concurrency` at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import soundfile

from beatflow_audio import codec
from beatflow_platform.auth import Principal
from beatflow_platform.errors import InvalidArgument
from beatflow_platform.objectstore import ObjectStore
from beatflow_vcs import audio_diff, range_merge
from beatflow_vcs.blobs import Blobs
from beatflow_vcs.commits import TreeEntry
from beatflow_vcs.merging import RangeChoice, RangeConflict, StemConflict, StemSplice
from beatflow_vcs.store import CommitView

# Integer subtypes of at most 16 bits; anything else (24/32-bit, float) is kept as 24-bit.
_SIXTEEN_BITS_OR_LESS = {"PCM_S8", "PCM_U8", "PCM_16", "ALAC_16", "DPCM_8", "DPCM_16"}
# A resolution's range may end this far past the stem's end (rounding of printed times).
_END_TOLERANCE_SECONDS = 0.01


@dataclass
class _Take:
    samples: np.ndarray
    rate: int
    high_resolution: bool


@dataclass(frozen=True)
class SplicedStem:
    """A stem merged by time range, encoded and not yet stored."""

    name: str
    flac: bytes
    ranges: tuple[tuple[str, float, float], ...]


@dataclass
class PlannedMerge:
    spliced: list[SplicedStem]
    stem_conflicts: list[StemConflict]
    range_conflicts: list[RangeConflict]


class StemMerges:
    def __init__(self, store: ObjectStore, blobs: Blobs, *, max_audio_seconds: float, concurrency: int = 1):
        self._store = store
        self._blobs = blobs
        self._max_audio_seconds = max_audio_seconds
        self._slots = asyncio.Semaphore(concurrency)

    async def plan(
        self,
        principal: Principal,
        base: CommitView,
        ours: CommitView,
        theirs: CommitView,
        conflicts: list[StemConflict],
        choices: list[RangeChoice],
    ) -> PlannedMerge:
        planned = PlannedMerge([], [], [])
        for conflict in conflicts:
            entries = [commit.tree.get(conflict.name) for commit in (base, ours, theirs)]
            reason = self._unmergeable(*entries)
            if reason:
                planned.stem_conflicts.append(dataclasses.replace(conflict, reason=reason))
                continue
            base_entry, ours_entry, theirs_entry = entries
            # _unmergeable gave a reason when a side lacks the stem.
            assert base_entry is not None and ours_entry is not None and theirs_entry is not None
            blob_ids = (base_entry.blob_id, ours_entry.blob_id, theirs_entry.blob_id)
            base_take, ours_take, theirs_take = [await self._decode(blob_id) for blob_id in blob_ids]
            reason = _shape_mismatch(base_take, ours_take, theirs_take)
            if reason:
                planned.stem_conflicts.append(dataclasses.replace(conflict, reason=reason))
                continue
            async with self._slots:
                (ours_ranges, ours_diff), (theirs_ranges, theirs_diff) = await asyncio.to_thread(
                    _side_changes, base_take, (ours_take, theirs_take), base.bpm
                )
            if range_merge.shifts_time(ours_ranges) or range_merge.shifts_time(theirs_ranges):
                reason = "an edit inserted or deleted time"
                planned.stem_conflicts.append(dataclasses.replace(conflict, reason=reason))
                continue
            duration = len(base_take.samples) / base_take.rate
            merge_plan = range_merge.plan(
                range_merge.regions(ours_ranges, base.bpm, duration, ours_diff.rings_out),
                range_merge.regions(theirs_ranges, base.bpm, duration, theirs_diff.rings_out),
            )
            mine = [(index, c) for index, c in enumerate(choices) if c.stem == conflict.name]
            resolutions = [_piece(index, choice, duration) for index, choice in mine]
            pieces, unresolved = range_merge.resolve(merge_plan, resolutions)
            if unresolved:
                # Also a stem conflict, which a whole-stem resolution settles as before range merges existed.
                reason = "both sides changed overlapping time ranges (see range_conflicts)"
                planned.stem_conflicts.append(dataclasses.replace(conflict, reason=reason))
                planned.range_conflicts.extend(
                    RangeConflict(conflict.name, span.start, span.end, *blob_ids) for span in unresolved
                )
                continue
            sources = {range_merge.OURS: ours_take, range_merge.THEIRS: theirs_take}
            for index, choice in mine:
                if choice.source not in sources:
                    sources[choice.source] = await self._take(principal, index, choice.source, base_take)
            # Encoded now, so that only one stem's decoded takes are held at a time.
            async with self._slots:
                data = await asyncio.to_thread(_spliced_flac, base_take, sources, pieces)
            ranges = tuple((p.source, p.span.start, p.span.end) for p in sorted(pieces, key=lambda p: p.span))
            planned.spliced.append(SplicedStem(conflict.name, data, ranges))
        return planned

    async def write(
        self, principal: Principal, spliced: list[SplicedStem]
    ) -> tuple[dict[str, TreeEntry], list[StemSplice]]:
        """Uploads each spliced stem: the new tree entries and what was spliced."""
        entries, splices = {}, []
        for stem in spliced:
            blob = await self._blobs.upload(
                principal,
                _chunks(stem.flac),
                filename=f"{stem.name}-merged.flac",
                expected_sha256=hashlib.sha256(stem.flac).hexdigest(),  # known up front: written once, in place
                size_bytes=len(stem.flac),
            )
            entries[stem.name] = TreeEntry(
                blob.blob_id, blob.size_bytes, blob.audio_format, blob.duration_seconds, blob.sample_rate, blob.channels
            )
            splices.append(StemSplice(stem.name, blob.blob_id, stem.ranges))
        return entries, splices

    def _unmergeable(self, base: TreeEntry | None, ours: TreeEntry | None, theirs: TreeEntry | None) -> str:
        if base is None:
            return "added on both sides"
        if ours is None or theirs is None:
            return "removed on one side, changed on the other"
        if max(e.duration_seconds for e in (base, ours, theirs)) > self._max_audio_seconds:
            return "too long to compare"
        return ""

    async def _decode(self, blob_id: str) -> _Take:
        data = b"".join([chunk async for chunk in self._store.read(blob_id)])
        async with self._slots:
            return await asyncio.to_thread(_decoded, data)

    async def _take(self, principal: Principal, index: int, blob_id: str, base: _Take) -> _Take:
        """A take named by a resolution: a blob the caller can read, shaped like the base."""
        field = f"range_resolutions[{index}].take_blob_id"
        blob = await self._blobs.readable(principal, blob_id)
        if blob.sample_rate <= 0 or blob.duration_seconds > self._max_audio_seconds:
            raise InvalidArgument.for_field(field, "must be audio no longer than the service's comparison limit")
        take = await self._decode(blob_id)
        if _shape_mismatch(base, take):
            raise InvalidArgument.for_field(field, "must have the base take's sample rate, channels and length")
        return take


def _piece(index: int, choice: RangeChoice, duration: float) -> range_merge.Piece:
    minimum = 2 * range_merge.FADE_SECONDS
    if not (choice.start >= 0 and choice.start + minimum <= choice.end <= duration + _END_TOLERANCE_SECONDS):
        raise InvalidArgument.for_field(
            f"range_resolutions[{index}]",
            f"the range must lie within the stem (0 to {duration:.3f} s) and last at least {minimum:.2f} s",
        )
    return range_merge.Piece(range_merge.Span(choice.start, min(choice.end, duration)), choice.source)


def _decoded(data: bytes) -> _Take:
    samples, rate = codec.decode(data)
    subtype = soundfile.info(io.BytesIO(data)).subtype
    return _Take(samples, rate, subtype not in _SIXTEEN_BITS_OR_LESS)


def _shape_mismatch(base: _Take, *others: _Take) -> str:
    if any(other.rate != base.rate or other.samples.shape[1] != base.samples.shape[1] for other in others):
        return "the takes' sample rates or channel counts differ"
    if any(len(other.samples) != len(base.samples) for other in others):
        return "an edit changed the stem's length (inserted or deleted time)"
    return ""


def _side_changes(
    base: _Take, sides: tuple[_Take, ...], bpm: float
) -> list[tuple[list[audio_diff.ChangedRange], audio_diff.Difference]]:
    """What each side changed against the base, and how loud that difference is over time."""
    return [
        (
            audio_diff.changed_ranges(base.samples, base.rate, side.samples, side.rate, base_bpm=bpm, head_bpm=bpm),
            audio_diff.Difference(base.samples, side.samples, base.rate),
        )
        for side in sides
    ]


def _spliced_flac(base: _Take, sources: dict[str, _Take], pieces: list[range_merge.Piece]) -> bytes:
    used = {piece.source for piece in pieces}
    audio = range_merge.splice(base.samples, {name: sources[name].samples for name in used}, pieces, base.rate)
    high = base.high_resolution or any(sources[name].high_resolution for name in used)
    return codec.encode(audio, base.rate, "FLAC", subtype="PCM_24" if high else "PCM_16")


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data
