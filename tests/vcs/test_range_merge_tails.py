"""Time-range merges where an edit rings out past its bar: the release of an edited note sounding into the next bar
is no edit of that bar (the other side's edit there merges), while a note held into it is (they conflict)."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_vcs import range_merge
from beatflow_vcs.audio_diff import Difference, changed_ranges
from beatflow_vcs.range_merge import Piece, Span
from tests.vcs.synthetic_notes import BAR, BPM, RATE, edited, melody, pitches

# Ours adds a note to bar 1 that sounds until bar 2's line and then either fades (a release) or is held on.
NOTE_HZ = 523.0
RELEASE_SECONDS = 0.1  # time constant: about 87 dB per second
HELD_PAST_LINE_SECONDS = 0.4


def with_note(base: np.ndarray, *, released: bool) -> np.ndarray:
    t = np.arange(len(base)) / RATE
    start, line = BAR + 0.03, 2 * BAR
    if released:
        envelope = np.where(t < line, 1.0, np.exp(-(t - line) / RELEASE_SECONDS))
    else:
        envelope = np.clip((line + HELD_PAST_LINE_SECONDS - t) / 0.02, 0.0, 1.0)
    envelope = np.where(t >= start, envelope, 0.0)
    note = (0.3 * envelope * np.sin(2 * np.pi * NOTE_HZ * t)).astype(np.float32)
    return base + note[:, None] * np.array([1.0, 0.8], dtype=np.float32)


def side_regions(base: np.ndarray, side: np.ndarray) -> list[Span]:
    ranges = changed_ranges(base, RATE, side, RATE, base_bpm=BPM, head_bpm=BPM)
    return range_merge.regions(ranges, BPM, len(base) / RATE, Difference(base, side, RATE).rings_out)


@pytest.mark.parametrize("seed", range(3))
def test_a_release_into_the_next_bar_merges_with_an_edit_of_that_bar(seed):
    notes = pitches(seed)
    base = melody(notes)
    ours, theirs = with_note(base, released=True), melody(edited(notes, 2))
    ranges = changed_ranges(base, RATE, ours, RATE, base_bpm=BPM, head_bpm=BPM)
    assert ranges[-1].base_end > 2 * BAR + range_merge.END_GUARD_BEATS * 60 / BPM  # the tail is a change
    ours_regions = side_regions(base, ours)
    assert ours_regions == [Span(BAR, 3 * BAR)] and ours_regions[0].tail == 2 * BAR
    merge_plan = range_merge.plan(ours_regions, side_regions(base, theirs))
    assert merge_plan.conflicts == []
    # Ours up to the bar line, theirs from it.
    assert merge_plan.pieces == [Piece(Span(BAR, 2 * BAR), "ours"), Piece(Span(2 * BAR, 3 * BAR), "theirs")]
    merged = range_merge.splice(base, {"ours": ours, "theirs": theirs}, merge_plan.pieces, RATE)
    np.testing.assert_array_equal(merged[: round(BAR * RATE)], base[: round(BAR * RATE)])


def test_a_release_alone_keeps_its_tail_in_the_merge():
    notes = pitches(0)
    base = melody(notes)
    ours, theirs = with_note(base, released=True), melody(edited(notes, 4))
    merge_plan = range_merge.plan(side_regions(base, ours), side_regions(base, theirs))
    assert merge_plan.conflicts == []
    assert Piece(Span(BAR, 3 * BAR), "ours") in merge_plan.pieces


@pytest.mark.parametrize("seed", range(3))
def test_a_note_held_into_the_next_bar_conflicts_with_an_edit_of_that_bar(seed):
    notes = pitches(seed)
    base = melody(notes)
    ours, theirs = with_note(base, released=False), melody(edited(notes, 2))
    ours_regions = side_regions(base, ours)
    assert [region.tail for region in ours_regions] == [None]
    merge_plan = range_merge.plan(ours_regions, side_regions(base, theirs))
    assert merge_plan.conflicts == [Span(BAR, 3 * BAR)]
