"""Bench scoring helpers and the naive baselines on tiny, known inputs."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from beatflow_audio import soundfont
from beatflow_audio.theory import Key
from bench.corpus import baselines, metrics

RATE = 22050


def test_roc_auc_ranks_right_answers_above_wrong_ones():
    right = np.array([True, True, False, False])
    assert metrics.roc_auc(np.array([0.9, 0.8, 0.1, 0.3]), right) == 1.0
    assert metrics.roc_auc(np.array([0.1, 0.2, 0.9, 0.3]), right) == 0.0
    assert metrics.roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), right) == 0.5
    assert metrics.roc_auc(np.array([0.9, 0.2, 0.4, 0.1]), right) == 0.75
    assert np.isnan(metrics.roc_auc(np.array([0.9, 0.8]), np.array([True, True])))


def test_tempo_hits_follow_mirex():
    assert metrics.tempo_hits(123.0, 120.0) == (True, True)
    assert metrics.tempo_hits(240.0, 120.0) == (False, True)
    assert metrics.tempo_hits(40.5, 120.0) == (False, True)
    assert metrics.tempo_hits(130.0, 120.0) == (False, False)


def test_key_score_uses_mirex_weights():
    assert metrics.key_score(Key(9, True), Key(9, True)) == 1.0
    assert metrics.key_score(Key(4, True), Key(9, True)) == 0.5  # the fifth above
    assert metrics.key_score(Key(0, False), Key(9, True)) == 0.3  # the relative key


def test_two_beat_bars_may_be_counted_in_pairs_but_not_three_beat_ones():
    bars = np.arange(0.0, 40.0, 1.0)
    assert metrics.downbeat_f_measure(bars, bars[1::2], beats_per_bar=2) == 1.0
    assert metrics.downbeat_f_measure(bars, bars[::2], beats_per_bar=3) == pytest.approx(2 / 3, abs=0.02)
    assert metrics.downbeat_f_measure(bars, bars + 0.5, beats_per_bar=2) == 0.0
    assert metrics.meter_class(2) == metrics.meter_class(4) != metrics.meter_class(3)


def test_chord_score_leaves_x_out_and_pads_with_no_chord():
    truth = [(0.0, 2.0, "C:maj"), (2.0, 3.0, "X"), (3.0, 4.0, "A:min")]
    right, scored = metrics.chord_majmin(truth, [(0.0, 1.0, "C:maj"), (1.0, 3.5, "A:min")])
    assert (right, scored) == pytest.approx((1.5, 3.0))


@pytest.mark.skipif(not soundfont.available(), reason="fluidsynth or the GM soundfont is missing")
def test_textbook_readings_hear_triads_key_and_tempo_of_a_piano():
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    for bar, (root, third) in enumerate([(60, 64), (57, 60), (65, 69), (67, 71)] * 2):
        for beat in range(4):  # one attack per beat, so librosa's tracker finds beats
            start = 2.0 * bar + 0.5 * beat
            for pitch in (root - 12, root, third, root + 7):
                piano.notes.append(pretty_midi.Note(90 if beat == 0 else 70, pitch, start, start + 0.45))
    midi.instruments.append(piano)
    audio = soundfont.render(midi, RATE).mean(axis=1)
    truth = [(2.0 * bar, 2.0 * bar + 2.0, label) for bar, label in enumerate(["C:maj", "A:min", "F:maj", "G:maj"] * 2)]
    readings = baselines.textbook_readings(audio, RATE)
    assert readings.chords[0][0] == 0.0 and readings.chords[-1][1] == pytest.approx(len(audio) / RATE)
    right, scored = metrics.chord_majmin(truth, readings.chords)
    assert right / scored >= 0.8
    assert readings.key == Key(0, False)
    assert metrics.tempo_hits(readings.bpm, 120.0)[1]
