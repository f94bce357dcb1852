"""Everything a musician reads off a track: tempo, beats, meter, key, chords, loudness and peaks.

The rhythm (`beatflow_audio.rhythm`), the key (`beatflow_audio.tonality`) and the chords
(`beatflow_audio.chords`) are heard on one mono signal at ANALYSIS_RATE; key and chords share one
overtone-aware pitch-class feature, and the chords are read per beat of the rhythm with the key
as their prior. Loudness
(ITU-R BS.1770 through pyloudnorm), the peak and the drawable waveform are measured on the
original samples. The figures on independent music are in docs/analysis.md.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import librosa
import numpy as np
import pyloudnorm

from beatflow_audio.chords import ChordSpan, estimate_chords_from
from beatflow_audio.codec import to_mono
from beatflow_audio.rhythm import Rhythm, estimate_rhythm
from beatflow_audio.theory import Key
from beatflow_audio.tonality import KeyEstimate, estimate_key_from, pitch_class_features

ANALYSIS_RATE = 22050


@dataclass(frozen=True)
class Analysis:
    duration_seconds: float
    sample_rate: int
    channels: int
    rhythm: Rhythm
    tonality: KeyEstimate
    chords: list[ChordSpan]
    loudness_lufs: float
    peak_dbfs: float
    waveform_peaks: list[float]

    @property
    def bpm(self) -> float:
        return self.rhythm.bpm

    @property
    def key(self) -> Key:
        return self.tonality.key


def waveform_peaks(samples: np.ndarray, points: int) -> list[float]:
    magnitude = np.abs(to_mono(samples) if samples.ndim == 2 else samples)
    edges = np.linspace(0, len(magnitude), points + 1, dtype=int)
    return [float(magnitude[a:b].max()) if b > a else 0.0 for a, b in itertools.pairwise(edges)]


# pyloudnorm weighs up to five channels, placed as BS.1770 places them: L, R, C, Ls, Rs.
BS1770_CHANNELS = 5
# A file of more channels is read in the WAV (and SMPTE) order, whose 5.1 is L, R, C, LFE, Ls, Rs, and measured on
# that bed without the LFE, which BS.1770 leaves out (a 7.1 file's last two channels are then not weighed).
FIVE_ONE_BED = (0, 1, 2, 4, 5)


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """ITU-R BS.1770 integrated loudness in LUFS (-inf for less than one 400 ms block, or silence)."""
    if len(samples) < int(0.4 * rate):
        return float("-inf")
    if samples.ndim == 2 and samples.shape[1] > BS1770_CHANNELS:
        samples = samples[:, list(FIVE_ONE_BED)]
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def analysis_signal(samples: np.ndarray, rate: int) -> np.ndarray:
    """The mono float32 signal at ANALYSIS_RATE that the estimators hear."""
    mono = to_mono(samples).astype(np.float32)
    return librosa.resample(mono, orig_sr=rate, target_sr=ANALYSIS_RATE) if rate != ANALYSIS_RATE else mono


def analyse(samples: np.ndarray, rate: int, *, peak_points: int = 1000) -> Analysis:
    """Everything at once; `samples` is float [frames, channels]."""
    signal = analysis_signal(samples, rate)
    rhythm = estimate_rhythm(signal, ANALYSIS_RATE)
    pitch_classes = pitch_class_features(signal, ANALYSIS_RATE)
    tonality = estimate_key_from(pitch_classes)
    peak = float(np.abs(samples).max())
    return Analysis(
        duration_seconds=len(samples) / rate,
        sample_rate=rate,
        channels=samples.shape[1] if samples.ndim == 2 else 1,
        rhythm=rhythm,
        tonality=tonality,
        chords=estimate_chords_from(pitch_classes, rhythm.beat_times, tonality.key),
        loudness_lufs=integrated_loudness(samples, rate),
        peak_dbfs=20 * np.log10(peak) if peak > 0 else float("-inf"),
        waveform_peaks=waveform_peaks(samples, peak_points),
    )
