"""Chords per beat of FluidSynth renders whose progression is known by construction."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from beatflow_audio import soundfont
from beatflow_audio.chords import ChordSpan, estimate_chords
from tests.analysis.music import RATE, render, triad

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="FluidSynth and its soundfont are installed by setup")

# I - vi - IV - V in G major, two beats each, twice; voiced in inversions around middle C.
PROGRESSION = [(59, 62, 67), (59, 64, 67), (60, 64, 67), (57, 62, 66)] * 2
BASS = [43, 40, 36, 38] * 2
LABELS = ["G:maj", "E:min", "C:maj", "D:maj"] * 2


def _label_at(spans: list[ChordSpan], time: float) -> str:
    return next(span.label for span in spans if span.start <= time < span.end)


@pytest.mark.parametrize("program", [0, 48], ids=["piano", "strings"])
def test_i_vi_iv_v_reads_right_on_most_beats(program):
    audio, beats = render(PROGRESSION, bass=BASS, beats_per_chord=2, bpm=90, program=program)
    spans = estimate_chords(audio, RATE, beats)
    truth = [label for label in LABELS for _ in range(2)]
    right = sum(_label_at(spans, beat + 0.05) == label for beat, label in zip(beats, truth, strict=True))
    assert right >= 0.85 * len(beats)


def test_spans_cover_the_audio_one_per_beat_with_equal_neighbours_merged():
    chords = [triad(60), triad(60), triad(57, True), triad(53)]
    audio, beats = render(chords, beats_per_chord=2, bpm=120)
    spans = estimate_chords(audio, RATE, beats)
    assert spans[0].start == 0.0
    assert spans[-1].end == pytest.approx(len(audio) / RATE)
    assert all(a.end == b.start and a.label != b.label for a, b in itertools.pairwise(spans))
    assert all(span.end > span.start for span in spans)
    inner = {span.start for span in spans[1:]}
    assert inner <= set(beats)
    assert [span.label for span in spans if span.end - span.start > 0.5][:3] == ["C:maj", "A:min", "F:maj"]


def test_silence_noise_and_tiny_input_have_no_chord():
    silence = np.zeros(4 * RATE, dtype=np.float32)
    assert estimate_chords(silence, RATE, [0.5, 1.0, 1.5]) == [ChordSpan(0.0, 4.0, "N")]
    noise = np.random.default_rng(1).normal(0, 0.1, 4 * RATE).astype(np.float32)
    assert estimate_chords(noise, RATE, [0.5, 1.0, 1.5]) == [ChordSpan(0.0, 4.0, "N")]
    tiny = np.random.default_rng(0).normal(0, 0.1, 200).astype(np.float32)
    assert [span.label for span in estimate_chords(tiny, RATE, [])] == ["N"]


def test_pause_between_chords_reads_as_no_chord():
    audio, beats = render([triad(62)] * 2, beats_per_chord=4, bpm=120)
    gap = np.zeros(2 * RATE, dtype=np.float32)
    padded = np.concatenate([audio, gap, audio])
    offset = (len(audio) + len(gap)) / RATE
    spans = estimate_chords(
        padded, RATE, [*beats, *np.arange(len(audio) / RATE, offset, 0.5), *(b + offset for b in beats)]
    )
    assert _label_at(spans, 1.0) == "D:maj"
    assert _label_at(spans, len(audio) / RATE + 1.0) == "N"
    assert _label_at(spans, offset + 1.0) == "D:maj"
