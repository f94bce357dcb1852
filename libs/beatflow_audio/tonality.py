"""Pitch-class features, tuning and key of a piece of audio.

One constant-Q spectrum (3 bins per semitone, C1 to B7) is computed once. How its energy falls
across the three bins of each semitone gives the tuning; the spectrum, read at that tuning and
whitened, is explained as a sum of harmonic note templates by non-negative least squares (an
approximate transcription, after NNLS Chroma, Mauch & Dixon 2010). Folding the note activations
gives a treble and a bass chroma in which a note's overtones no longer count as other pitch
classes: on the plain CQT chroma the tonic's 3rd harmonic feeds the dominant's bin, and the key
follows it a fifth up. Key and chord estimation share these features (`pitch_class_features`).

The key is the best of 24 rotations of weights fitted on the bench's tune split (a log-linear model
of the compressed treble and bass chroma). Its confidence grows with the margin over the best key
that is not a usual confusion (relative, parallel, dominant, subdominant), times how clearly the
audio is pitched at all, so noise and silence get 0. The church-mode reading keeps the tonic and
picks the mode whose scale holds most of the weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import scipy.sparse
from scipy.ndimage import uniform_filter1d

from beatflow_audio.theory import MODES, Key

HOP = 2048
_LOWEST_NOTE = 24  # C1
_NOTES = 84  # C1..B7
_BINS_PER_SEMITONE = 3
_HARMONICS = 8
_HARMONIC_DECAY = 0.7
_NNLS_ITERATIONS = 30
_MIN_SECONDS = 0.5
_SILENCE_RMS = 1e-4
# Clarity (see PitchFeatures) of white, brown and band-passed noise is 0.19-0.21; of the bench's
# rendered music 0.28-0.75.
_NOISE_CLARITY = 0.22
_TONAL_CLARITY = 0.3

# Raised-cosine registers (MIDI notes) folded into the treble and the bass chroma.
_TREBLE_REGISTER = (43, 100)
_BASS_REGISTER = (26, 57)

# Key weights (C first): a multinomial logistic regression over the 24 rotations of the piece's
# compressed treble and bass chroma (`_KEY_COMPRESSION`), fitted on the bench's tune split and on renders
# of cadences in natural and harmonic minor, regularised towards the Albrecht & Shanahan (2013) profiles
# and a bass that dwells on the tonic and the dominant.
_MAJOR_TREBLE = np.array([20.16, -10.33, 3.90, -10.52, 7.70, 1.62, -9.08, 17.23, -9.97, -0.53, -10.67, 0.50])
_MAJOR_BASS = np.array([5.13, -1.27, -0.10, -1.48, -0.10, 0.95, -1.47, 2.61, -1.54, -0.01, -1.99, -0.75])
_MINOR_TREBLE = np.array([19.69, -11.49, 3.30, 7.05, -9.98, 2.68, -10.40, 18.73, -2.60, -9.67, -3.52, -3.79])
_MINOR_BASS = np.array([4.44, -1.75, -0.56, 0.43, -1.64, 0.85, -1.62, 2.79, 0.25, -2.11, -0.83, -0.25])
_MINOR_BIAS = 0.18
_KEY_COMPRESSION = 0.5
# Score margin over the best unrelated key at which the confidence reaches 1 - 1/e.
_CONFIDENT_MARGIN = 1.0
_THIRD_RATIO = 2.0


@dataclass(frozen=True)
class PitchFeatures:
    """Frame-wise pitch-class content of a piece, computed once for key and chords."""

    treble: np.ndarray  # [12, frames] note activations folded to pitch classes, C first
    bass: np.ndarray  # [12, frames] the same for the bass register
    frame_times: np.ndarray  # [frames] seconds at each frame's centre
    duration: float  # seconds of audio
    tuning_cents: float  # the recording's tuning relative to A440, -50..50
    clarity: float  # share of the spectrum's magnitude standing above its broadband floor

    @property
    def tonal_weight(self) -> float:
        """0 for silence and noise (whose clarity stays near 0.2), rising to 1 for clearly pitched music."""
        if self.treble.shape[1] == 0 or not np.any(self.treble + self.bass):
            return 0.0
        return float(np.clip((self.clarity - _NOISE_CLARITY) / (_TONAL_CLARITY - _NOISE_CLARITY), 0.0, 1.0))


@dataclass(frozen=True)
class KeyEstimate:
    key: Key  # always major or minor
    confidence: float  # 0..1, ranks right readings above wrong ones
    mode_tonic: int  # pitch class of the church-mode reading of the same music
    mode: str  # one of MODES
    tuning_cents: float  # deviation of the recording's tuning from A440, -50..50


def pitch_class_features(mono: np.ndarray, rate: int) -> PitchFeatures:
    """Treble and bass chroma from an approximate transcription, at the recording's own tuning."""
    duration = len(mono) / rate
    mono = np.nan_to_num(np.asarray(mono, dtype=np.float32))
    if duration < _MIN_SECONDS or np.sqrt(np.mean(mono**2)) < _SILENCE_RMS:
        return PitchFeatures(np.zeros((12, 0)), np.zeros((12, 0)), np.zeros(0), duration, 0.0, 0.0)
    spectrum = np.abs(
        librosa.cqt(
            mono,
            sr=rate,
            hop_length=HOP,
            fmin=librosa.midi_to_hz(_LOWEST_NOTE),
            n_bins=_NOTES * _BINS_PER_SEMITONE,
            bins_per_octave=12 * _BINS_PER_SEMITONE,
        )
    )
    whitened = _whiten(spectrum)
    tuning = _tuning_bins(whitened)
    notes = _transcribe(_semitone_spectrum(whitened, tuning))
    times = librosa.frames_to_time(np.arange(notes.shape[1]), sr=rate, hop_length=HOP)
    return PitchFeatures(
        treble=_fold(notes, _TREBLE_REGISTER),
        bass=_fold(notes, _BASS_REGISTER),
        frame_times=times,
        duration=duration,
        tuning_cents=float(tuning * 100 / _BINS_PER_SEMITONE),
        clarity=float(whitened.sum() / max(spectrum.sum(), 1e-12)),
    )


def _whiten(spectrum: np.ndarray) -> np.ndarray:
    """Remove the broadband floor: what rises above the running mean over an octave of bins."""
    floor = uniform_filter1d(spectrum, size=12 * _BINS_PER_SEMITONE, axis=0, mode="nearest")
    return np.maximum(spectrum - floor, 0.0)


def _tuning_bins(spectrum: np.ndarray) -> float:
    """Offset (in bins, -1.5..1.5) of the partials from the A440 semitone centres: the circular mean
    of the energy over the bin index modulo 3. Broadband energy spreads evenly and cancels."""
    energy = spectrum.sum(axis=1)
    phase = np.exp(2j * np.pi * np.arange(len(energy)) / _BINS_PER_SEMITONE)
    resultant = np.sum(energy * phase)
    if abs(resultant) <= 1e-12:
        return 0.0
    return float(np.angle(resultant) / (2 * np.pi) * _BINS_PER_SEMITONE)


def _semitone_spectrum(spectrum: np.ndarray, tuning_bins: float) -> np.ndarray:
    """One row per semitone, read (by linear interpolation) at the tuned semitone centres."""
    positions = np.arange(_NOTES) * _BINS_PER_SEMITONE + tuning_bins
    positions = np.clip(positions, 0, spectrum.shape[0] - 1)
    below = np.floor(positions).astype(int)
    above = np.minimum(below + 1, spectrum.shape[0] - 1)
    fraction = (positions - below)[:, None]
    return (1 - fraction) * spectrum[below] + fraction * spectrum[above]


def _note_dictionary() -> np.ndarray:
    """[semitone bins, notes]: each note's harmonic series with geometrically decaying partials."""
    dictionary = np.zeros((_NOTES, _NOTES))
    for note in range(_NOTES):
        for harmonic in range(1, _HARMONICS + 1):
            bin_ = note + round(12 * np.log2(harmonic))
            if bin_ < _NOTES:
                dictionary[bin_, note] += _HARMONIC_DECAY ** (harmonic - 1)
    return dictionary / np.linalg.norm(dictionary, axis=0)


# Sparse products stay single-threaded: a multi-threaded BLAS on a busy machine is many times slower.
_DICTIONARY = _note_dictionary()
_PROJECTION = scipy.sparse.csr_matrix(_DICTIONARY.T.astype(np.float32))
_GRAM = scipy.sparse.csr_matrix((_DICTIONARY.T @ _DICTIONARY).astype(np.float32))


def _transcribe(spectrum: np.ndarray) -> np.ndarray:
    """Note activations [notes, frames] >= 0 minimising ||D a - s||, all frames at once by
    multiplicative updates (Lee & Seung), which keep the activations non-negative."""
    projected = _PROJECTION @ spectrum.astype(np.float32)
    activations = np.maximum(projected, 0.0)
    for _ in range(_NNLS_ITERATIONS):
        activations *= projected / (_GRAM @ activations + 1e-9)
    return activations


def _register_weights(low: int, high: int) -> np.ndarray:
    """Raised-cosine weights over the notes from MIDI `low` to `high`, zero outside."""
    midi = np.arange(_NOTES) + _LOWEST_NOTE
    inside = (midi >= low) & (midi <= high)
    weights = np.zeros(_NOTES)
    weights[inside] = np.sin(np.pi * (midi[inside] - low + 0.5) / (high - low + 1)) ** 2
    return weights


def _fold(notes: np.ndarray, register: tuple[int, int]) -> np.ndarray:
    weighted = notes * _register_weights(*register)[:, None]
    chroma = np.zeros((12, notes.shape[1]))
    for offset in range(12):
        chroma[(offset + _LOWEST_NOTE) % 12] = weighted[offset::12].sum(axis=0)
    return chroma


def compressed_distribution(chroma: np.ndarray, power: float) -> np.ndarray:
    """Pitch-class weights (columns of `chroma`) raised to `power` < 1, so that one loud voice does
    not drown the others, and scaled to sum to 1 (zero columns stay zero)."""
    compressed = np.maximum(chroma, 0.0) ** power
    return compressed / np.maximum(compressed.sum(axis=0, keepdims=True), 1e-12)


def key_scores(features: PitchFeatures) -> np.ndarray:
    """[24] log-odds of each key (majors 0-11, then minors 0-11, C first) for the whole piece."""
    treble = compressed_distribution(features.treble.sum(axis=1), _KEY_COMPRESSION)
    bass = compressed_distribution(features.bass.sum(axis=1), _KEY_COMPRESSION)
    scores = np.zeros(24)
    for tonic in range(12):
        rotated_treble, rotated_bass = np.roll(treble, -tonic), np.roll(bass, -tonic)
        scores[tonic] = _MAJOR_TREBLE @ rotated_treble + _MAJOR_BASS @ rotated_bass
        scores[12 + tonic] = _MINOR_TREBLE @ rotated_treble + _MINOR_BASS @ rotated_bass + _MINOR_BIAS
    return scores


def _related(index: int) -> set[int]:
    """The keys a reading of key `index` is commonly confused with: itself, its relative,
    parallel, dominant and subdominant."""
    tonic, minor = index % 12, index >= 12
    relative = (tonic + 3) % 12 if minor else 12 + (tonic + 9) % 12
    parallel = tonic if minor else 12 + tonic
    fifths = {12 * minor + (tonic + 7) % 12, 12 * minor + (tonic + 5) % 12}
    return {index, relative, parallel, *fifths}


def estimate_key_from(features: PitchFeatures) -> KeyEstimate:
    if features.tonal_weight == 0.0:  # silence or noise: no key, and no tuning to speak of
        return KeyEstimate(Key(0, False), 0.0, 0, "ionian", 0.0)
    scores = key_scores(features)
    best = int(np.argmax(scores))
    unrelated = max(score for index, score in enumerate(scores) if index not in _related(best))
    margin = max(scores[best] - unrelated, 0.0)
    confidence = float(1.0 - np.exp(-margin / _CONFIDENT_MARGIN)) * features.tonal_weight
    tonic = best % 12
    weights = np.roll(features.treble.sum(axis=1), -tonic)
    weights = weights / max(weights.sum(), 1e-12)
    # A third over the tonic twice as strong as the other decides major or minor: a mixolydian tune,
    # whose flat 7th the minor weights favour, is in a major key.
    minor = weights[3] > _THIRD_RATIO * weights[4] or (best >= 12 and weights[4] <= _THIRD_RATIO * weights[3])
    mode = _mode_reading(weights, minor)
    return KeyEstimate(Key(tonic, minor), confidence, tonic, mode, features.tuning_cents)


def _mode_reading(weights: np.ndarray, minor: bool) -> str:
    """The church mode with a minor (or major) third whose scale holds most of the pitch-class
    `weights` (tonic first); ties go to the earlier of `MODES`."""
    fits: dict[str, float] = {}
    for name, scale in MODES.items():
        if (scale[2] == 3) == minor:
            template = -np.ones(12)
            template[list(scale)] = 1.0
            fits[name] = float(template @ weights)
    return max(fits, key=fits.__getitem__)


def estimate_key(mono: np.ndarray, rate: int) -> KeyEstimate:
    """Key, confidence, church-mode reading and tuning of mono audio (22050 Hz expected)."""
    return estimate_key_from(pitch_class_features(mono, rate))


# Krumhansl-Kessler probe-tone profiles, for pitch-class durations of transcribed notes: symbolic
# input has no overtones to blur the pitch classes, which is what these profiles were made for.
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def key_of_notes(durations: np.ndarray) -> Key:
    """The key of notes given as 12 pitch-class durations (C first)."""
    candidates = [
        (np.corrcoef(np.roll(durations, -tonic), profile)[0, 1], Key(tonic, minor))
        for tonic in range(12)
        for minor, profile in ((False, _KK_MAJOR), (True, _KK_MINOR))
    ]
    return max(candidates, key=lambda candidate: candidate[0])[1]
