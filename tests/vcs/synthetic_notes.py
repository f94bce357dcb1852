"""A stem of synthetic notes, one per beat, whose edits are known exactly (for merge and comment tests).

Each note is silent for its first `ONSET` seconds and again before the next beat, so audio cut at a
beat or bar line (where a splice fades) is silence on both sides.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile

RATE = 32000
BPM = 120.0
BEAT = 60.0 / BPM
BAR = 4 * BEAT
BARS = 6
ONSET = 0.03
PITCHES = [220.0, 247.0, 262.0, 294.0, 330.0, 349.0, 392.0, 440.0]


def melody(pitches: list[float]) -> np.ndarray:
    """[frames, 2] one note per beat."""
    beat = round(BEAT * RATE)
    t = np.arange(beat) / RATE
    envelope = np.where(t >= ONSET, np.exp(-(t - ONSET) * 9.0), 0.0) * np.clip((BEAT - 0.05 - t) / 0.02, 0.0, 1.0)
    mono = np.concatenate([0.4 * envelope * np.sin(2 * np.pi * f * t) for f in pitches]).astype(np.float32)
    return np.stack([mono, 0.8 * mono], axis=1)


def pitches(seed: int = 0, bars: int = BARS) -> list[float]:
    """Four notes per bar, drawn at random from PITCHES."""
    rng = np.random.default_rng(seed)
    return [PITCHES[i] for i in rng.integers(0, len(PITCHES), bars * 4)]


def edited(notes: list[float], bar: int, shift: int = 2) -> list[float]:
    """The notes of `bar` moved `shift` steps along PITCHES."""
    out = list(notes)
    for beat in range(4 * bar, 4 * bar + 4):
        out[beat] = PITCHES[(PITCHES.index(out[beat]) + shift) % len(PITCHES)]
    return out


def flac(samples: np.ndarray, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, RATE, format="FLAC", subtype=subtype)
    return buffer.getvalue()
