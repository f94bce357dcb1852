"""Key, church-mode reading and tuning of short FluidSynth renders whose truth is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio import soundfont
from beatflow_audio.theory import Key
from beatflow_audio.tonality import estimate_key, estimate_key_from, pitch_class_features
from tests.analysis.music import RATE, render, triad

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="FluidSynth and its soundfont are installed by setup")

E_FLAT_CADENCES = [triad(63), triad(56), triad(58), triad(63)] * 2
E_FLAT_TUNE = [70, 72, 70, 67, 68, 72, 70, 68, 70, 65, 62, 63, 67, 65, 63, 63] * 2
# Natural minor (E, never E#), starting on iv and only reaching the tonic at the end.
F_SHARP_MINOR = [triad(59, True), triad(52), triad(57), triad(62), triad(59, True), triad(61, True)] + [
    triad(54, True)
] * 2
F_SHARP_MINOR_TUNE = [71, 69, 68, 66, 64, 66, 68, 69, 69, 73, 71, 69, 66, 64, 62, 64]
F_SHARP_MINOR_TUNE += [71, 69, 68, 66, 64, 61, 62, 64, 73, 69, 66, 66, 66, None, 66, None]
# D major from ii: ii V I vi ii V I.
D_MAJOR_FROM_II = [triad(64, True), triad(57), triad(62), triad(59, True), triad(64, True), triad(57), triad(62)]


def _key_of(chords, melody=(), **kwargs):
    audio, _ = render(chords, melody, **kwargs)
    return estimate_key(audio, RATE)


@pytest.fixture(scope="module")
def cluster_confidence() -> float:
    """A chromatic cluster over a bass C: no key at all."""
    return _key_of([tuple(range(60, 72))] * 6, bass=[48] * 6).confidence


@pytest.mark.parametrize(
    ("chords", "melody", "truth"),
    [
        (E_FLAT_CADENCES, E_FLAT_TUNE, Key(3, False)),
        (F_SHARP_MINOR, F_SHARP_MINOR_TUNE, Key(6, True)),
        (D_MAJOR_FROM_II, (), Key(2, False)),
    ],
    ids=["E-flat major cadences", "F# natural minor from iv", "D major from ii"],
)
def test_reads_the_key_with_more_confidence_than_a_cluster(chords, melody, truth, cluster_confidence):
    estimate = _key_of(chords, melody)
    assert estimate.key == truth
    assert estimate.mode_tonic == truth.tonic
    assert estimate.mode == ("aeolian" if truth.minor else "ionian")
    assert estimate.confidence > cluster_confidence + 0.1


def test_dorian_tune_reads_as_d_dorian():
    """D dorian over a D drone: i - VII - IV - i, the IV chord and the tune carry the raised 6th (B)."""
    chords = [triad(62, True), triad(60), triad(55), triad(62, True)] * 2
    tune = [62, 64, 65, 67, 69, 71, 69, 67, 65, 64, 62, 60, 62, 71, 69, 62] * 2
    estimate = _key_of(chords, tune, bass=[38] * 8)
    assert (estimate.key, estimate.mode_tonic, estimate.mode) == (Key(2, True), 2, "dorian")


def test_mixolydian_tune_reads_as_g_mixolydian():
    """G mixolydian over a G drone: I - bVII - IV - I, the bVII chord and the tune carry the flat 7th (F)."""
    chords = [triad(55), triad(53), triad(60), triad(55)] * 2
    tune = [67, 69, 71, 67, 65, 67, 69, 65, 67, 71, 74, 72, 71, 69, 67, 67] * 2
    estimate = _key_of(chords, tune, bass=[43] * 8)
    assert (estimate.key, estimate.mode_tonic, estimate.mode) == (Key(7, False), 7, "mixolydian")


def test_finds_the_tuning_of_a_detuned_render():
    in_tune = _key_of(E_FLAT_CADENCES, E_FLAT_TUNE)
    detuned = _key_of(E_FLAT_CADENCES, E_FLAT_TUNE, cents=30.0)
    assert abs(in_tune.tuning_cents) < 10
    assert abs(detuned.tuning_cents - 30.0) < 10
    assert detuned.key == Key(3, False)


@pytest.mark.parametrize(
    "audio",
    [
        np.zeros(5 * RATE, dtype=np.float32),
        np.zeros(100, dtype=np.float32),
        np.random.default_rng(0).normal(0, 0.1, 300).astype(np.float32),
        np.array([], dtype=np.float32),
    ],
    ids=["silence", "a few samples of silence", "a few samples of noise", "empty"],
)
def test_no_music_gives_zero_confidence(audio):
    estimate = estimate_key(audio, RATE)
    assert (estimate.confidence, estimate.tuning_cents) == (0.0, 0.0)


def test_noise_has_no_key():
    white = np.random.default_rng(1).normal(0, 0.1, 10 * RATE).astype(np.float32)
    brown = np.cumsum(white) / 100
    brown -= np.convolve(brown, np.ones(RATE // 10) / (RATE // 10), mode="same")
    for noise in (white, brown.astype(np.float32)):
        estimate = estimate_key(noise, RATE)
        assert (estimate.confidence, estimate.tuning_cents) == (0.0, 0.0)


def test_features_are_shared_and_consistent():
    audio, _ = render(E_FLAT_CADENCES, E_FLAT_TUNE)
    features = pitch_class_features(audio, RATE)
    assert features.treble.shape[0] == features.bass.shape[0] == 12
    assert features.treble.shape[1] == len(features.frame_times) > 0
    assert features.duration == pytest.approx(len(audio) / RATE)
    assert estimate_key_from(features) == estimate_key(audio, RATE)
