"""Mixdown of stems with per-stem gain, and format conversion."""

from __future__ import annotations

import librosa
import numpy as np

FULL_SCALE = 10 ** (-0.1 / 20)  # keep mixes just under 0 dBFS


def to_stereo(samples: np.ndarray) -> np.ndarray:
    if samples.shape[1] == 2:
        return samples
    return np.repeat(samples.mean(axis=1, keepdims=True), 2, axis=1)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    return librosa.resample(samples.T, orig_sr=rate, target_sr=target).T.astype(np.float32)


def mix(inputs: list[tuple[np.ndarray, int, float]]) -> tuple[np.ndarray, int, bool]:
    """(samples, rate, gain dB) per stem -> stereo mix at the highest rate, padded to the longest
    stem, and whether it had to be scaled down to avoid clipping."""
    rate = max(r for _, r, _ in inputs)
    tracks = [to_stereo(resample(samples, r, rate)) * 10 ** (gain / 20) for samples, r, gain in inputs]
    length = max(len(track) for track in tracks)
    total = np.zeros((length, 2), dtype=np.float32)
    for track in tracks:
        total[: len(track)] += track
    peak = float(np.abs(total).max())
    if peak > 1.0:
        return (total * (FULL_SCALE / peak)).astype(np.float32), rate, True
    return total, rate, False
