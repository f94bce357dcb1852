"""A major or minor triad (or no chord) per beat, from the shared pitch-class features.

Each beat's treble and bass chroma (from the first two thirds of the beat) are scored against the
24 triads with weights fitted on the bench's tune split; the key, when given, favours its diatonic
triads; Viterbi decoding with a self-transition prior keeps a chord through passing notes. Quiet
beats are no chord. Labels are spelled as mir_eval reads them: "C:maj", "A:min", "N".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import librosa
import numpy as np

from beatflow_audio.theory import MAJOR_SCALE, PITCH_NAMES, Key
from beatflow_audio.tonality import PitchFeatures, compressed_distribution, estimate_key_from, pitch_class_features

NO_CHORD = "N"
# Chord weights (chord root first): a multinomial logistic regression over the 24 rotations of each
# beat's compressed treble and bass chroma, fitted on the beats of the bench's tune split. Beyond the
# triad's notes they learn what tells neighbours apart: a C major triad is not an E minor one with a
# C in the bass, nor an A minor one without its A.
_MAJOR_TREBLE = np.array([17.59, -2.21, 0.60, -7.08, 15.03, -0.96, -2.46, 14.70, -3.64, -3.17, 1.79, 0.11])
_MAJOR_BASS = np.array([10.98, -1.36, -3.68, -0.94, 4.95, 0.14, 0.16, 0.56, -1.19, -0.58, -1.99, -1.76])
_MINOR_TREBLE = np.array([16.63, -4.18, 0.61, 16.01, -4.06, -0.24, -1.89, 13.97, -4.90, -0.74, -1.45, -0.05])
_MINOR_BASS = np.array([9.45, -4.70, -0.91, 4.57, -2.91, 1.12, -1.66, 0.59, 0.34, -0.78, 0.41, -0.81])
_MINOR_BIAS = -0.29
_COMPRESSION = 0.5
_ONSET_SHARE = 2 / 3  # a chord is heard from its beat's start: passing notes crowd the end of the beat
_QUIET = 0.05  # beats this far below the piece's typical level are no chord
_STAY = 0.1  # probability of keeping the chord from one beat to the next (chance: 1/25)
_DIATONIC_PRIOR = 2.0  # likelihood ratio of the key's own triads over the others
_LABELS = [f"{PITCH_NAMES[root]}:{quality}" for quality in ("maj", "min") for root in range(12)]


@dataclass(frozen=True)
class ChordSpan:
    start: float
    end: float
    label: str


def _diatonic(key: Key) -> np.ndarray:
    """[24] True for the major and minor triads of the key's diatonic collection (a minor key's is its
    relative major's), plus the major dominant of harmonic minor."""
    tonic = key.tonic if not key.minor else (key.tonic + 3) % 12
    chosen = np.zeros(24, dtype=bool)
    for degree, minor in enumerate((0, 1, 1, 0, 0, 1)):  # I ii iii IV V vi
        chosen[12 * minor + (tonic + MAJOR_SCALE[degree]) % 12] = True
    if key.minor:
        chosen[(key.tonic + 7) % 12] = True
    return chosen


def _segments(beat_times: Sequence[float], duration: float) -> np.ndarray:
    """Boundaries 0, beats..., duration (sorted, inside the audio, no empty spans)."""
    inner = np.unique(np.asarray(beat_times, dtype=float))
    inner = inner[(inner > 0) & (inner < duration)]
    return np.concatenate([[0.0], inner, [duration]])


def _beat_means(frames: np.ndarray, frame_times: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """[rows, segments] mean of the frames whose centres fall in the first `_ONSET_SHARE` of each
    segment (the nearest frame if none does)."""
    ends = bounds[:-1] + _ONSET_SHARE * np.diff(bounds)
    first = np.searchsorted(frame_times, bounds[:-1])
    last = np.maximum(np.searchsorted(frame_times, ends), first + 1)
    first = np.minimum(first, frames.shape[1] - 1)
    last = np.minimum(last, frames.shape[1])
    first = np.minimum(first, last - 1)
    totals = np.concatenate([np.zeros((frames.shape[0], 1)), np.cumsum(frames, axis=1)], axis=1)
    return (totals[:, last] - totals[:, first]) / (last - first)


def estimate_chords_from(
    features: PitchFeatures, beat_times: Sequence[float], key: Key | None = None
) -> list[ChordSpan]:
    """One chord per beat, equal neighbours merged; the spans cover the audio from 0 to its end."""
    if features.duration <= 0:
        return []
    if features.tonal_weight == 0.0:
        return [ChordSpan(0.0, features.duration, NO_CHORD)]
    bounds = _segments(beat_times, features.duration)
    treble = _beat_means(features.treble, features.frame_times, bounds)
    bass = _beat_means(features.bass, features.frame_times, bounds)
    states = librosa.sequence.viterbi(_likelihoods(treble, bass, key), librosa.sequence.transition_loop(25, _STAY))
    labels = [*_LABELS, NO_CHORD]
    spans: list[ChordSpan] = []
    for start, end, state in zip(bounds[:-1], bounds[1:], states, strict=True):
        label = labels[state]
        if spans and spans[-1].label == label:
            spans[-1] = ChordSpan(spans[-1].start, float(end), label)
        else:
            spans.append(ChordSpan(float(start), float(end), label))
    return spans


def _chord_scores(treble: np.ndarray, bass: np.ndarray) -> np.ndarray:
    """[24, beats] log-odds of the triads (majors C..B, then minors) from per-beat chroma [12, beats]."""
    treble = compressed_distribution(treble, _COMPRESSION)
    bass = compressed_distribution(bass, _COMPRESSION)
    scores = np.empty((24, treble.shape[1]))
    for root in range(12):
        rotated_treble, rotated_bass = np.roll(treble, -root, axis=0), np.roll(bass, -root, axis=0)
        scores[root] = _MAJOR_TREBLE @ rotated_treble + _MAJOR_BASS @ rotated_bass
        scores[12 + root] = _MINOR_TREBLE @ rotated_treble + _MINOR_BASS @ rotated_bass + _MINOR_BIAS
    return scores


def _likelihoods(treble: np.ndarray, bass: np.ndarray, key: Key | None) -> np.ndarray:
    """[25, beats] observation likelihoods of the 24 triads and no chord (only quiet beats)."""
    scores = _chord_scores(treble, bass)
    likelihood = np.exp(scores - scores.max(axis=0))
    if key is not None:
        likelihood[_diatonic(key)] *= _DIATONIC_PRIOR
    likelihood /= likelihood.sum(axis=0)
    level = treble.sum(axis=0) + bass.sum(axis=0)
    sounding = level[level > 0]
    quiet = level < _QUIET * np.median(sounding) if sounding.size else np.ones(level.shape, dtype=bool)
    return np.vstack([np.where(quiet, 0.0, likelihood), quiet.astype(float)[None, :]])


def estimate_chords(mono: np.ndarray, rate: int, beat_times: Sequence[float]) -> list[ChordSpan]:
    """Chords of mono audio (22050 Hz expected) at the given beats, with the estimated key as prior."""
    features = pitch_class_features(mono, rate)
    return estimate_chords_from(features, beat_times, estimate_key_from(features).key)
