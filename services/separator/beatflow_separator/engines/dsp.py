"""Separation without weights: harmonic/percussive split, frequency bands and a foreground estimate.

Masks are estimated once on the mono mixture and applied to every channel's STFT:
percussive energy (librosa HPSS) -> drums; harmonic energy below ~250 Hz -> bass; harmonic
energy of the vocal band that stands out from its slowly changing background (a running median
over a few seconds, which repeating accompaniment dominates) -> vocals; the rest -> other.
The masks are soft and "other" is the mixture minus the three, so the stems always sum back to
the input exactly.
"""

from __future__ import annotations

import librosa
import numpy as np
from scipy.ndimage import median_filter

from beatflow_separator.engines.base import Progress, Separation, SeparationOptions

N_FFT = 2048
HOP = 512
HPSS_KERNEL = 17
BASS_CUTOFF_HZ = 250.0
VOCAL_BAND_HZ = (180.0, 6000.0)
BACKGROUND_SECONDS = 3.0
# The background median runs on frames averaged in groups of this many (a 64x cheaper filter).
BACKGROUND_DECIMATION = 8
EPS = 1e-10


def _soft_step(frequencies: np.ndarray, edge: float, width: float) -> np.ndarray:
    """1 well below `edge`, 0 well above it."""
    return 1.0 / (1.0 + np.exp((frequencies - edge) / width))


def _background(magnitude: np.ndarray, frames: int) -> np.ndarray:
    """Running median over `frames` along time, computed on time-decimated frames."""
    groups = -(-magnitude.shape[1] // BACKGROUND_DECIMATION)
    padded = np.pad(magnitude, ((0, 0), (0, groups * BACKGROUND_DECIMATION - magnitude.shape[1])), mode="edge")
    coarse = padded.reshape(magnitude.shape[0], groups, BACKGROUND_DECIMATION).mean(axis=2)
    smooth = median_filter(coarse, size=(1, max(3, frames // BACKGROUND_DECIMATION) | 1), mode="nearest")
    return np.repeat(smooth, BACKGROUND_DECIMATION, axis=1)[:, : magnitude.shape[1]]


class DspSeparator:
    name = "dsp"

    def available(self) -> tuple[bool, str]:
        return True, "built in; needs no weights"

    def masks(self, mono: np.ndarray, rate: int) -> dict[str, np.ndarray]:
        magnitude = np.abs(librosa.stft(mono, n_fft=N_FFT, hop_length=HOP))
        harmonic, percussive = librosa.decompose.hpss(magnitude, kernel_size=HPSS_KERNEL, margin=1.0)
        percussive_mask = percussive / (harmonic + percussive + EPS)
        harmonic_mask = 1 - percussive_mask
        frequencies = librosa.fft_frequencies(sr=rate, n_fft=N_FFT)[:, None]
        bass_band = _soft_step(frequencies, BASS_CUTOFF_HZ, 15.0)
        low, high = VOCAL_BAND_HZ
        vocal_band = (1 - _soft_step(frequencies, low, 20.0)) * _soft_step(frequencies, high, 300.0)
        background = _background(harmonic, int(BACKGROUND_SECONDS * rate / HOP))
        foreground = np.clip(harmonic - background, 0, None) / (harmonic + EPS)
        return {
            "drums": percussive_mask,
            "bass": harmonic_mask * bass_band,
            "vocals": harmonic_mask * (1 - bass_band) * vocal_band * foreground,
        }

    def separate(self, samples: np.ndarray, rate: int, options: SeparationOptions, progress: Progress) -> Separation:
        progress(0.05, "masks", "harmonic, percussive and foreground")
        masks = self.masks(samples.mean(axis=1), rate)
        stems = {name: np.zeros_like(samples) for name in masks}
        channels = samples.shape[1]
        for channel in range(channels):
            progress(0.5 + 0.4 * channel / channels, "applying", f"channel {channel + 1} of {channels}")
            signal = samples[:, channel]
            spectrum = librosa.stft(signal, n_fft=N_FFT, hop_length=HOP)
            for name, mask in masks.items():
                stems[name][:, channel] = librosa.istft(spectrum * mask, hop_length=HOP, length=len(signal))
        stems["other"] = samples - stems["drums"] - stems["bass"] - stems["vocals"]
        progress(0.95, "done", "")
        return Separation({name: stem.astype(np.float32) for name, stem in stems.items()}, rate, self.name)
