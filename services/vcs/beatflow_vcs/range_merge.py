"""Time-range merges of one stem (pure, numpy): which ranges each side changed, where they clash, and splicing.

Both sides' changed ranges (from `audio_diff`, against the merge base) become regions on the base's
timeline: where the tempo is known their edges move to bar lines (4/4 assumed: commits record a
tempo, not a metre), outward, except onto a nearer bar line within a guard: `START_GUARD_SECONDS`
for a start (the diff places starts to its resolution) and `END_GUARD_BEATS` for an end (a note
ringing a little past the bar line it ends on is no edit of the next bar). Past a bar line where
the change only rings out (the release of edited notes, `audio_diff.Difference.rings_out`) a region
has a tail: spliced where the other side changed nothing, given up where it did. Regions of the two
sides whose parts before any tail overlap are conflicts; the rest is spliced into the base. Each
change of source is an equal-power fade of `FADE_SECONDS` that lies inside the spliced region
(between two adjacent regions it is centred on their boundary), so audio outside every region stays
the base's, sample for sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from beatflow_vcs.audio_diff import ChangedRange

BEATS_PER_BAR = 4
START_GUARD_SECONDS = 0.06
END_GUARD_BEATS = 0.5
FADE_SECONDS = 0.01
# Without a tempo, regions are widened by this much so the fades fall on unchanged audio (the diff's resolution).
UNSNAPPED_PAD_SECONDS = 0.05
BASE = "base"
OURS = "ours"
THEIRS = "theirs"


@dataclass(frozen=True, order=True)
class Span:
    """[start, end) in seconds; a region's part from `tail` on only rings out (None: no tail)."""

    start: float
    end: float
    tail: float | None = field(default=None, compare=False)

    @property
    def firm(self) -> Span:
        """The part before the tail: what a side edited."""
        return Span(self.start, self.end if self.tail is None else self.tail)

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def covers(self, other: Span, tolerance: float = 1e-3) -> bool:
        return self.start <= other.start + tolerance and self.end >= other.end - tolerance


@dataclass(frozen=True)
class Piece:
    """A region taken from `source` ("ours", "theirs" or a take's blob id)."""

    span: Span
    source: str


@dataclass(frozen=True)
class Plan:
    pieces: list[Piece]
    conflicts: list[Span]


def shifts_time(ranges: list[ChangedRange]) -> bool:
    """Whether an edit inserted or deleted material (what follows it moved)."""
    return any(r.kind != "modified" for r in ranges)


def regions(
    ranges: list[ChangedRange], bpm: float, duration: float, rings_out: Callable[[float, float], bool] | None = None
) -> list[Span]:
    """The base-timeline regions of one side's modified ranges, on bar lines when `bpm` is known, merged.

    With `rings_out(start, end)` (whether this side's difference only fades over that span) and a tempo,
    a region whose change only rings out past one of its bar lines has its tail from there.
    """
    spans = []
    for changed in ranges:
        tail = None
        if bpm > 0:
            bar = BEATS_PER_BAR * 60.0 / bpm
            start = _snap(changed.base_start, bar, START_GUARD_SECONDS, np.floor)
            end = _snap(changed.base_end, bar, END_GUARD_BEATS * 60.0 / bpm, np.ceil)
            if end <= start:  # a change within the guards around one bar line
                start, end = _snap(changed.base_start, bar, 0.0, np.floor), _snap(changed.base_end, bar, 0.0, np.ceil)
            if rings_out is not None:
                tail = _ringing_from(start, min(end, changed.base_end), bar, rings_out)
        else:
            start, end = changed.base_start - UNSNAPPED_PAD_SECONDS, changed.base_end + UNSNAPPED_PAD_SECONDS
        spans.append(Span(max(0.0, start), min(duration, end), tail))
    return _union(spans)


def _ringing_from(
    start: float, changed_end: float, bar: float, rings_out: Callable[[float, float], bool]
) -> float | None:
    """The first bar line after `start` (a bar line) past which the change only rings out, or None."""
    lines = np.arange(1, int(np.ceil((changed_end - start) / bar)) + 1) * bar + start
    return next((float(line) for line in lines if line < changed_end and rings_out(float(line), changed_end)), None)


def _snap(seconds: float, bar: float, guard: float, outward) -> float:
    nearest = round(seconds / bar) * bar
    return nearest if abs(seconds - nearest) <= guard else float(outward(seconds / bar)) * bar


def _union(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(s for s in spans if s.end > s.start):
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            firm_end = max(last.firm.end, span.firm.end)
            end = max(last.end, span.end)
            merged[-1] = Span(last.start, end, firm_end if firm_end < end else None)
        else:
            merged.append(span)
    return merged


def plan(ours: list[Span], theirs: list[Span]) -> Plan:
    """Regions only one side touches are taken from it, a tail up to where the other side's region starts;
    regions of both sides whose firm parts overlap, joined, conflict."""
    tagged = sorted([(s, OURS) for s in ours] + [(s, THEIRS) for s in theirs])
    clusters: list[tuple[Span, Span, list[tuple[Span, str]]]] = []  # (firm hull, hull, members)
    for span, side in tagged:
        if clusters and span.firm.overlaps(clusters[-1][0]):
            firm, hull, members = clusters[-1]
            firm = Span(firm.start, max(firm.end, span.firm.end))
            clusters[-1] = (firm, Span(hull.start, max(hull.end, span.end)), [*members, (span, side)])
        else:
            clusters.append((span.firm, Span(span.start, span.end), [(span, side)]))
    pieces, conflicts = [], []
    for _, hull, members in clusters:
        if len({side for _, side in members}) > 1:
            conflicts.append(hull)
        else:
            pieces.extend(Piece(span, side) for span, side in members)
    return Plan([_without_overlapped_tail(piece, pieces) for piece in pieces], conflicts)


def _without_overlapped_tail(piece: Piece, pieces: list[Piece]) -> Piece:
    """The piece ending where another side's piece starts within it (only ever within its tail)."""
    starts = [p.span.start for p in pieces if p.source != piece.source and piece.span.start < p.span.start]
    end = min([piece.span.end, *starts])
    return piece if end == piece.span.end else Piece(Span(piece.span.start, end), piece.source)


def resolve(merge_plan: Plan, resolutions: list[Piece]) -> tuple[list[Piece], list[Span]]:
    """The pieces to splice (resolutions painted over the automatic ones) and the conflicts no resolution covers."""
    unresolved = [c for c in merge_plan.conflicts if not any(r.span.covers(c) for r in resolutions)]
    return [*merge_plan.pieces, *resolutions], unresolved


def splice(base: np.ndarray, sources: dict[str, np.ndarray], pieces: list[Piece], rate: int) -> np.ndarray:
    """The base with each piece's span taken from its source (all [frames, channels] of the base's shape),
    later pieces over earlier ones, with equal-power fades at every change of source."""
    frames = len(base)
    names = [BASE, *sorted({p.source for p in pieces})]
    signals = [base, *(sources[name] for name in names[1:])]
    for name, signal in zip(names, signals, strict=True):
        if signal.shape != base.shape:
            raise ValueError(f"{name}: shape {signal.shape} differs from the base's {base.shape}")
    labels = np.zeros(frames, dtype=np.int16)
    for piece in pieces:
        first, last = (min(frames, max(0, round(t * rate))) for t in (piece.span.start, piece.span.end))
        labels[first:last] = names.index(piece.source)
    out = base.copy()
    for index in range(1, len(names)):
        mask = labels == index
        out[mask] = signals[index][mask]
    fade = max(1, round(FADE_SECONDS * rate))
    changes = (np.flatnonzero(np.diff(labels)) + 1).tolist()
    bounds = [0, *changes, frames]
    for number, point in enumerate(changes):
        before, after = int(labels[point - 1]), int(labels[point])
        if before == 0:
            first = point
        elif after == 0:
            first = point - fade
        else:
            first = point - fade // 2
        # Never past the neighbouring changes: a region shorter than a fade gets a shorter one.
        first, last = max(first, bounds[number]), min(first + fade, bounds[number + 2])
        if last <= first:
            continue
        t = (np.arange(last - first, dtype=np.float64) + 0.5) / (last - first) * (np.pi / 2)
        gain_out, gain_in = np.cos(t)[:, None], np.sin(t)[:, None]
        out[first:last] = gain_out * signals[before][first:last] + gain_in * signals[after][first:last]
    return out
