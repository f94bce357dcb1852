"""Textbook estimators measured beside the project's analyser, in the same run, on the same audio.

- tempo: plain `librosa.beat.beat_track(y=..., sr=...)` with its defaults;
- key: the mean `chroma_cqt` correlated with the Krumhansl-Kessler profiles of the 24 keys;
- chords: `chroma_cqt` averaged between librosa's own beats (never the truth beats), each beat given
  the best-correlating of the 24 major/minor triad templates.
The beat tracker and the chroma run once per piece and serve all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from beatflow_audio.theory import PITCH_NAMES, Key

HOP = 512  # librosa's default, for both the beat tracker and the chroma
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Readings:
    bpm: float
    key: Key
    chords: list[tuple[float, float, str]]  # (start s, end s, mir_eval label), from 0 to the end of the audio


def textbook_tempo(samples: np.ndarray, rate: int) -> float:
    """The tempo baseline alone (for sets scored on tempo only)."""
    tempo, _ = librosa.beat.beat_track(y=samples, sr=rate, hop_length=HOP)
    return float(np.atleast_1d(tempo)[0])


def textbook_readings(samples: np.ndarray, rate: int) -> Readings:
    tempo, beat_frames = librosa.beat.beat_track(y=samples, sr=rate, hop_length=HOP)
    chroma = librosa.feature.chroma_cqt(y=samples, sr=rate, hop_length=HOP)
    return Readings(
        bpm=float(np.atleast_1d(tempo)[0]),
        key=key_from_chroma(chroma),
        chords=beat_chords(chroma, beat_frames, rate, len(samples) / rate),
    )


def key_from_chroma(chroma: np.ndarray) -> Key:
    mean = chroma.mean(axis=1)
    scores = [
        (np.corrcoef(np.roll(mean, -tonic), profile)[0, 1], Key(tonic, minor))
        for tonic in range(12)
        for minor, profile in ((False, KRUMHANSL_MAJOR), (True, KRUMHANSL_MINOR))
    ]
    return max(scores, key=lambda score: score[0])[1]


def triad_templates() -> tuple[np.ndarray, list[str]]:
    """[24, 12] unit-norm binary templates of the major then minor triads, and their mir_eval labels."""
    templates, labels = [], []
    for quality, third in (("maj", 4), ("min", 3)):
        for root in range(12):
            template = np.zeros(12)
            template[[root, (root + third) % 12, (root + 7) % 12]] = 1.0
            templates.append(template / np.linalg.norm(template))
            labels.append(f"{PITCH_NAMES[root]}:{quality}")
    return np.array(templates), labels


def beat_chords(
    chroma: np.ndarray, beat_frames: np.ndarray, rate: int, duration: float
) -> list[tuple[float, float, str]]:
    """The best triad template per stretch between beats, from 0 to `duration` ("N" where silent)."""
    bounds = librosa.util.fix_frames(beat_frames, x_min=0, x_max=chroma.shape[1])
    synced = librosa.util.sync(chroma, bounds.tolist(), aggregate=np.mean)
    templates, labels = triad_templates()
    norms = np.linalg.norm(synced, axis=0)
    best = np.argmax(templates @ (synced / np.maximum(norms, 1e-9)), axis=0)
    times = librosa.frames_to_time(bounds, sr=rate, hop_length=HOP)
    times[-1] = duration
    return [
        (float(start), float(end), labels[index] if norm > 1e-6 else "N")
        for start, end, index, norm in zip(times[:-1], times[1:], best, norms, strict=True)
        if end > start
    ]
