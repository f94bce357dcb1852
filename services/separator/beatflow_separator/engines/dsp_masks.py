"""Soft masks for the DSP separator, from one magnitude spectrogram [bins, frames] each.

All masks are ratios of non-negative estimates (Wiener-style), so they lie in [0, 1] and a silent
input gives zero masks. Median filters do the estimating: along time, a partial that holds still
(tonal); along frequency, a broadband onset (percussive).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter
from scipy.special import expit, logit

EPS = 1e-10
# Cues are kept this far from 0 and 1 before their log-odds are taken (a cue of exactly 0 or 1 would be
# infinite evidence).
CUE_MARGIN = 1e-6
MEDIAN_TAPS = 17
# The running background median works on frames averaged in groups of this many (a much cheaper filter).
BACKGROUND_DECIMATION = 8
# Candidate fundamentals per octave when following the bass line, and harmonics summed per candidate.
F0_STEPS_PER_OCTAVE = 36
F0_HARMONICS = 4
F0_HARMONIC_DECAY = 0.84


def odd(length: float) -> int:
    """A median filter length: odd, at least 3."""
    return max(3, round(length) // 2 * 2 + 1)


def low_pass(frequencies: np.ndarray, edge: float, width: float) -> np.ndarray:
    """1 well below `edge`, 0 well above it, a logistic step `width` Hz wide in between."""
    return 1.0 / (1.0 + np.exp(np.clip((frequencies - edge) / width, -50, 50)))


def band(frequencies: np.ndarray, low: float, high: float) -> np.ndarray:
    return (1 - low_pass(frequencies, low, 20.0)) * low_pass(frequencies, high, 300.0)


def share(estimate: np.ndarray, rival: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """The Wiener share of `estimate` against `margin` times `rival`, in power."""
    power, rival_power = estimate**2, (margin * rival) ** 2
    return power / (power + rival_power + EPS)


def evidence(bias: float, *cues: tuple[np.ndarray, float]) -> np.ndarray:
    """A mask from cues in [0, 1], each read as a probability and weighed as evidence: the logistic of
    `bias` plus the sum of `weight * logit(cue)` over the (cue, weight) pairs. Unlike a product of the
    cues, cues that agree strengthen each other, and one weak cue does not veto the others."""
    total = np.full(np.broadcast_shapes(*(cue.shape for cue, _ in cues)), bias, dtype=np.float32)
    for cue, weight in cues:
        total += weight * logit(np.clip(cue, CUE_MARGIN, 1 - CUE_MARGIN))
    return expit(total)


def mono_magnitude(spectra: list[np.ndarray]) -> np.ndarray:
    """The magnitude of the channels' mean (the mid signal of a stereo pair)."""
    return np.abs(sum(spectra) / len(spectra))


def centre(spectra: list[np.ndarray]) -> np.ndarray:
    """Per bin, how much of a stereo pair sounds from the centre: 1 where both channels carry the same
    level in phase, falling to 0 for one side alone or opposite phases; 1 everywhere for mono (or more
    than two channels, whose layout is unknown). Mixes put the lead voice and the bass there."""
    if len(spectra) != 2:
        return np.ones(spectra[0].shape, dtype=np.float32)
    left, right = spectra
    cross = np.real(left) * np.real(right) + np.imag(left) * np.imag(right)
    return np.clip(2 * cross / (np.abs(left) ** 2 + np.abs(right) ** 2 + EPS), 0, 1)


def along_time(magnitude: np.ndarray, frames: float) -> np.ndarray:
    """Median over `frames` along time; a long span is sampled at MEDIAN_TAPS evenly spaced frames
    (the cost of a median filter grows with its taps, not its span)."""
    span = odd(frames)
    footprint = np.zeros((1, span), dtype=bool)
    footprint[0, np.round(np.linspace(0, span - 1, min(span, MEDIAN_TAPS))).astype(int)] = True
    return median_filter(magnitude, footprint=footprint, mode="nearest")


def along_frequency(magnitude: np.ndarray, bins: float) -> np.ndarray:
    return median_filter(magnitude, size=(odd(bins), 1), mode="nearest")


def background(magnitude: np.ndarray, frames: float) -> np.ndarray:
    """Running median over `frames` along time, on time-decimated frames: what holds for seconds
    (repeating accompaniment) rather than what comes and goes (a lead line)."""
    groups = -(-magnitude.shape[1] // BACKGROUND_DECIMATION)
    padded = np.pad(magnitude, ((0, 0), (0, groups * BACKGROUND_DECIMATION - magnitude.shape[1])), mode="edge")
    coarse = padded.reshape(magnitude.shape[0], groups, BACKGROUND_DECIMATION).mean(axis=2)
    smooth = median_filter(coarse, size=(1, odd(frames / BACKGROUND_DECIMATION)), mode="nearest")
    return np.repeat(smooth, BACKGROUND_DECIMATION, axis=1)[:, : magnitude.shape[1]]


def predominant_f0(magnitude: np.ndarray, bin_hz: float, low: float, high: float) -> np.ndarray:
    """Per frame, the fundamental in [low, high] Hz whose first harmonics carry the most magnitude
    (harmonic summation), median-smoothed over 5 frames."""
    candidates = low * 2 ** (np.arange(int(np.log2(high / low) * F0_STEPS_PER_OCTAVE) + 1) / F0_STEPS_PER_OCTAVE)
    tolerant = maximum_filter1d(magnitude, 3, axis=0)  # a partial a bin off still counts
    salience = np.zeros((len(candidates), magnitude.shape[1]), dtype=magnitude.dtype)
    for harmonic in range(1, F0_HARMONICS + 1):
        rows = np.round(harmonic * candidates / bin_hz).astype(int)
        inside = rows < magnitude.shape[0]
        salience[inside] += tolerant[rows[inside]] * F0_HARMONIC_DECAY ** (harmonic - 1)
    f0 = candidates[np.argmax(salience, axis=0)]
    return 2 ** median_filter(np.log2(f0), size=5, mode="nearest")


def harmonic_support(mask: np.ndarray, bins: int, harmonics: tuple[int, ...], tolerance: int = 3) -> np.ndarray:
    """[bins, frames]: per bin, the geometric mean over `harmonics` of `mask` [bins', frames] at that
    multiple of the bin's frequency (the largest value within `tolerance` bins of it). High where the
    bin's overtones are all in the mask: a fundamental whose partials the mask holds."""
    nearby = maximum_filter1d(mask, tolerance, axis=0)
    rows = np.arange(bins)
    logs = [np.log(nearby[np.minimum(harmonic * rows, len(mask) - 1)] + EPS) for harmonic in harmonics]
    return np.exp(np.mean(logs, axis=0))


def harmonic_comb(f0: np.ndarray, bins: int, bin_hz: float, top_hz: float) -> np.ndarray:
    """[bins, frames]: 1 on the harmonics of `f0` below `top_hz`, falling to 0 one bin away."""
    comb = np.zeros((bins, len(f0)), dtype=np.float32)
    rows = np.arange(bins, dtype=np.float32)[:, None]
    for harmonic in range(1, int(top_hz / f0.min()) + 1):
        centre = harmonic * f0 / bin_hz
        weight = np.clip(1 - np.abs(rows - centre[None, :]), 0, 1)
        weight[:, harmonic * f0 > top_hz] = 0
        np.maximum(comb, weight, out=comb)
    return comb
