"""Stem levels and the mix: a fixed gain per stem, one scale for the whole piece so its mix peaks
at -1 dBFS, and a short fade at the end.

The gains are fixed (measured levels would make the bytes depend on float reduction order): drums
sit under the pitched parts, so the harmony and the line carry the key. A creative operation
levels its new material with the source's scale, so what it keeps stays bit-identical.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 44100
PEAK = 10 ** (-1 / 20)
FADE_SECONDS = 0.05
STEM_GAINS = {"drums": 0.45, "bass": 0.6, "chords": 1.3, "melody": 1.8}
OTHER_STEM_GAIN = 1.1


def gain(stem: str) -> np.float32:
    return np.float32(STEM_GAINS.get(stem, OTHER_STEM_GAIN))


def end_fade(frames: int, first: int = 0) -> np.ndarray:
    """The gain of frames `first`..`frames` of a piece `frames` long ([frames - first, 1] float32):
    1, then a linear fall over the last FADE_SECONDS."""
    return np.minimum(1, (frames - np.arange(first, frames)) / (FADE_SECONDS * SAMPLE_RATE)).astype(np.float32)[:, None]


def _fade_tail(frames: int) -> int:
    """How many of the last frames `end_fade` lowers (before them it is exactly 1)."""
    return min(frames, int(FADE_SECONDS * SAMPLE_RATE))


def level(
    stems: dict[str, np.ndarray], *, fade: bool = True, scale: np.float32 | None = None
) -> tuple[dict[str, np.ndarray], np.float32]:
    """Rendered stems (all of one length) -> (stems with their gains, the end fade when `fade`, and
    one scale: the one that puts their mix's peak at -1 dBFS, or `scale` (a source's) when given;
    that scale). Works in place where it can: minutes of stems are hundreds of megabytes."""
    frames = len(next(iter(stems.values())))
    tail = _fade_tail(frames) if fade else 0
    envelope = end_fade(frames, frames - tail)
    faded = {}
    for name, stem in stems.items():
        faded[name] = stem * gain(name)
        if tail:
            faded[name][frames - tail :] = stem[frames - tail :] * (envelope * gain(name))
    if scale is None:
        total = np.zeros((frames, 2), dtype=np.float32)
        for stem in faded.values():
            total += stem
        scale = np.float32(PEAK / max(float(total.max()), -float(total.min()), 1e-9))
    for stem in faded.values():
        stem *= scale
    return faded, scale


def with_mix(stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The stems and "mix", their sum."""
    frames = len(next(iter(stems.values())))
    mix = np.zeros((frames, 2), dtype=np.float32)
    for stem in stems.values():
        mix += stem
    return {**stems, "mix": mix}
