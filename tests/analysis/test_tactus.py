"""The tapped level chosen from synthetic onset envelopes whose accents are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio.tactus import MAX_TAPPED_BPM, Envelopes, choose_tactus

FRAME_RATE = 22050 / 512
SECONDS = 30.0


def _envelope(times: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """An onset envelope with a one-frame peak of the given height at each time, over a small floor."""
    envelope = np.full(int(SECONDS * FRAME_RATE) + 1, 0.01)
    frames = np.round(np.asarray(times) * FRAME_RATE).astype(int)
    envelope[frames] = heights
    return envelope


def _pulse(bpm: float) -> np.ndarray:
    return np.arange(0.5, SECONDS - 0.5, 60.0 / bpm)


def _flat(_: float) -> float:
    return 1.0


def _drumless(envelope: np.ndarray) -> Envelopes:
    """The same envelope for onsets, harmonic change and bass, no drums."""
    return Envelopes(envelope, envelope, envelope, False, FRAME_RATE)


def test_weak_points_between_beats_halve_a_tracked_tempo_of_subdivisions():
    """Chords at 75 bpm with quiet passing notes half-way: tracked at 150, the beat is 75."""
    tracked = _pulse(150)
    envelope = _envelope(tracked, np.where(np.arange(len(tracked)) % 2 == 0, 1.0, 0.15))
    tactus = choose_tactus(_drumless(envelope), tracked, 150.0, _flat)
    assert tactus.factor == 0.5
    assert tactus.alternative_factor in (0.25, 1.0)
    assert 0.5 < tactus.weight <= 1.0


def test_points_between_beats_struck_as_hard_as_the_beats_double_a_slow_tracked_tempo():
    """Even notes at 110 bpm tracked at 55 (its every other note): 55 bpm is slower than listeners tap when
    the notes between are as strong, and the tempogram has its peak at 110."""
    notes = _pulse(110)
    envelope = _envelope(notes, np.ones(len(notes)))

    def salience(bpm: float) -> float:
        return 1.0 if abs(bpm - 110) < 3 else 0.3

    tactus = choose_tactus(_drumless(envelope), notes[::2], 55.0, salience)
    assert tactus.factor == 2.0
    assert tactus.alternative_factor in (1.0, 4.0)


def test_the_same_even_notes_keep_a_tracked_tempo_in_the_tapping_range():
    notes = _pulse(100)
    envelope = _envelope(notes, np.ones(len(notes)))
    tactus = choose_tactus(_drumless(envelope), notes, 100.0, _flat)
    assert tactus.factor == 1.0
    assert tactus.alternative_factor in (0.5, 2.0)


@pytest.mark.parametrize("tracked_bpm", [320.0, 440.0])
def test_a_tracked_tempo_above_the_tapping_range_comes_down_into_it(tracked_bpm):
    """Accented every fourth note (a bar of fast notes): the beat is at or below MAX_TAPPED_BPM."""
    notes = _pulse(tracked_bpm)
    envelope = _envelope(notes, np.where(np.arange(len(notes)) % 4 == 0, 1.0, 0.5))
    tactus = choose_tactus(_drumless(envelope), notes, tracked_bpm, _flat)
    assert tactus.factor * tracked_bpm <= MAX_TAPPED_BPM
    assert tactus.factor in (0.5, 0.25, 0.125)


def test_too_few_beats_to_compare_keep_the_tracked_level():
    notes = _pulse(100)[:5]
    envelope = _envelope(notes, np.ones(len(notes)))
    assert choose_tactus(_drumless(envelope), notes, 100.0, _flat).factor == 1.0


@pytest.mark.parametrize(("kick_between", "factor"), [(True, 2.0), (False, 1.0)])
def test_with_drums_the_kick_tells_whether_the_hi_hat_points_are_beats(kick_between, factor):
    """Tracked at 60 bpm, the points half-way struck a little softer (hi-hat and snare): a kick there too
    makes 120 bpm the beat, a kick only on the tracked beats keeps 60."""
    tracked = _pulse(60)
    points = np.sort(np.concatenate([tracked, tracked[:-1] + 0.5]))
    on_tracked = np.isin(points, tracked)
    onsets = _envelope(points, np.where(on_tracked, 1.0, 0.6))
    kicks = _envelope(points, np.where(on_tracked | kick_between, 1.0, 0.01))
    envelopes = Envelopes(onsets, onsets, kicks, True, FRAME_RATE)
    assert choose_tactus(envelopes, tracked, 60.0, _flat).factor == factor
