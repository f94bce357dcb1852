"""Separation without weights: three median-filter passes, each at the time-frequency resolution
that suits what it takes out of what the passes before it left.

1. Lead voice (~46 ms window): harmonic energy of the vocal band (above the bass) that stands out
   from its background over a few seconds (a running median, which repeating accompaniment
   dominates) -> vocals.
2. Tonal (~93 ms window, below 5 kHz): partials that hold still for a few tenths of a second (the
   horizontal median beats twice the vertical one). Tonal energy below ~250 Hz, and on the
   harmonics of the strongest low fundamental up to 800 Hz, is the bass; the rest of it is set
   aside as "other", so that the next pass does not see it.
3. Transient (~23 ms window) on what is left (onsets, noise, non-stationary partials): energy
   that spreads across frequency more than it lasts in time -> drums.

Each mask is a Wiener-style share of median-filter estimates, computed on the mono mix of the
pass's input and applied to every channel's STFT. "other" is the mixture minus vocals, bass and
drums, so the stems sum back to the input exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import librosa
import numpy as np

from beatflow_separator.engines import dsp_masks as m
from beatflow_separator.engines.base import Progress, Separation, SeparationOptions

REFERENCE_RATE = 44100
VOCAL_BAND_HZ = (180.0, 6000.0)
BASS_CUTOFF_HZ = 250.0
BASS_F0_RANGE_HZ = (35.0, 250.0)
BASS_HARMONICS_TOP_HZ = 800.0
LEAD_KERNEL = 17  # frames and bins of the lead pass's median filters
BACKGROUND_SECONDS = 3.0
TONAL_TOP_HZ = 5000.0
TONAL_SECONDS = 0.4
TONAL_SPAN_HZ = 250.0
TONAL_MARGIN = 2.0  # tonal only where the horizontal median beats twice the vertical one
TRANSIENT_SECONDS = 0.4
TRANSIENT_SPAN_HZ = 300.0
DRUM_MARGIN = 1.0


@dataclass(frozen=True)
class Grid:
    """One STFT resolution at the input's rate."""

    rate: int
    n_fft: int

    @classmethod
    def at(cls, rate: int, window_at_reference: int) -> Grid:
        return cls(rate, int(2 ** round(np.log2(window_at_reference * rate / REFERENCE_RATE))))

    @property
    def hop(self) -> int:
        return self.n_fft // 4

    @property
    def bin_hz(self) -> float:
        return self.rate / self.n_fft

    @property
    def frequencies(self) -> np.ndarray:
        return librosa.fft_frequencies(sr=self.rate, n_fft=self.n_fft).astype(np.float32)[:, None]

    def frames(self, seconds: float) -> float:
        return seconds * self.rate / self.hop

    def bins_below(self, hz: float) -> int:
        return min(self.n_fft // 2 + 1, int(np.ceil(hz / self.bin_hz)))


def lead_voice(magnitude: np.ndarray, grid: Grid) -> dict[str, np.ndarray]:
    top = grid.bins_below(VOCAL_BAND_HZ[1] * 1.3)
    low = magnitude[:top]
    harmonic_share = m.share(m.along_time(low, LEAD_KERNEL), m.along_frequency(low, LEAD_KERNEL))
    harmonic = low * harmonic_share
    foreground = np.clip(harmonic - m.background(harmonic, grid.frames(BACKGROUND_SECONDS)), 0, None)
    frequencies = grid.frequencies[:top]
    vocals = np.zeros_like(magnitude)
    vocals[:top] = (
        harmonic_share
        * m.band(frequencies, *VOCAL_BAND_HZ)
        * (1 - m.low_pass(frequencies, BASS_CUTOFF_HZ, 15.0))
        * foreground
        / (harmonic + m.EPS)
    )
    return {"vocals": vocals}


def tonal(magnitude: np.ndarray, grid: Grid) -> dict[str, np.ndarray]:
    top = grid.bins_below(TONAL_TOP_HZ)
    low = magnitude[:top]
    tonal_share = m.share(
        m.along_time(low, grid.frames(TONAL_SECONDS)),
        m.along_frequency(low, TONAL_SPAN_HZ / grid.bin_hz),
        TONAL_MARGIN,
    )
    f0 = m.predominant_f0(low, grid.bin_hz, *BASS_F0_RANGE_HZ)
    bass_share = np.maximum(
        m.low_pass(grid.frequencies[:top], BASS_CUTOFF_HZ, 15.0),
        m.harmonic_comb(f0, top, grid.bin_hz, BASS_HARMONICS_TOP_HZ),
    )
    bass, other = np.zeros_like(magnitude), np.zeros_like(magnitude)
    bass[:top] = tonal_share * bass_share
    other[:top] = tonal_share * (1 - bass_share)
    return {"bass": bass, "other": other}


def transient(magnitude: np.ndarray, grid: Grid) -> dict[str, np.ndarray]:
    vertical = m.along_frequency(magnitude, TRANSIENT_SPAN_HZ / grid.bin_hz)
    horizontal = m.along_time(magnitude, grid.frames(TRANSIENT_SECONDS))
    return {"drums": m.share(vertical, horizontal, DRUM_MARGIN)}


# (stage name, window in samples at 44.1 kHz, masks from the mono magnitude)
PASSES: tuple[tuple[str, int, Callable[[np.ndarray, Grid], dict[str, np.ndarray]]], ...] = (
    ("lead voice", 2048, lead_voice),
    ("tonal", 4096, tonal),
    ("transient", 1024, transient),
)


class DspSeparator:
    name = "dsp"

    def available(self) -> tuple[bool, str]:
        return True, "built in; needs no weights"

    def separate(self, samples: np.ndarray, rate: int, options: SeparationOptions, progress: Progress) -> Separation:
        samples = np.asarray(samples, dtype=np.float32)
        length, channels = samples.shape
        stems = {name: np.zeros_like(samples) for name in ("vocals", "bass", "drums")}
        remaining = samples
        for index, (stage, window, masks_of) in enumerate(PASSES):
            progress(index / len(PASSES), "masks", stage)
            grid = Grid.at(rate, window)
            spectra = [librosa.stft(remaining[:, c], n_fft=grid.n_fft, hop_length=grid.hop) for c in range(channels)]
            masks = masks_of(np.abs(sum(spectra) / channels), grid)
            taken = np.zeros_like(samples)
            for name, mask in masks.items():  # "other" is only set aside here: it is the residual below
                for channel, spectrum in enumerate(spectra):
                    part = librosa.istft(spectrum * mask, hop_length=grid.hop, length=length)
                    taken[:, channel] += part
                    if name in stems:
                        stems[name][:, channel] += part
            remaining = remaining - taken
        stems["other"] = samples - stems["vocals"] - stems["bass"] - stems["drums"]
        progress(1.0, "done", "")
        return Separation({name: stem.astype(np.float32) for name, stem in stems.items()}, rate, self.name)
