"""Synthetic sung and hummed melodies with known notes, and the note-transcription figures on them.

Melodies: the first 8-16 s of folk tunes (music21's ryansMammoth) and Bach chorale soprano lines,
plus random-walk melodies with repeated notes, at a singable tempo, moved into a male or female range.
Each is sung by a source-filter voice: a glottal-pulse spectrum (-12 dB per octave, band-limited)
through vowel formants ("ah", "oo", or a hum "mm" that keeps mostly the lowest formant), with vibrato
of 5-6 Hz and 30-60 cents starting at a random point of long notes, 60-120 ms glides into some notes
(the glide belongs to its target: the note's onset is where the glide starts), soft attacks,
re-articulated repeated notes, breath noise and breaths in the rests, and the whole melody detuned by
up to +-30 cents. The truth is the score: MIDI pitch and onset of every note.

The split into "tune" and "test" halves is fixed by a hash of the melody name; figures are on the
test half. Scores: `mir_eval.transcription.precision_recall_f1_overlap` with 50 ms onset tolerance,
50 cents pitch tolerance and offsets ignored, averaged over melodies.
Run: `python -m bench.corpus.hum` (prints the figures).
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from functools import cache
from typing import cast

import librosa
import mir_eval
import numpy as np

from beatflow_audio import pitch, transcription
from bench.corpus.catalogue import unit

RATE = 22050
MELODY_COUNT = {"folk": 16, "chorale": 8, "random": 16}
VOWELS = {  # formant frequencies (Hz) and relative gains of an adult male voice; female: x1.15
    "ah": ((730, 1090, 2440), (1.0, 0.5, 0.2)),
    "oo": ((300, 870, 2240), (1.0, 0.3, 0.08)),
    "mm": ((250, 1100, 2300), (1.0, 0.03, 0.01)),
}
FORMANT_BANDWIDTHS = (90.0, 110.0, 160.0)
RANGES = {"male": 50, "female": 65}  # median MIDI pitch of the sung melody


@dataclass(frozen=True)
class SungNote:
    pitch: int  # MIDI, the truth
    onset: float  # seconds
    offset: float


@dataclass(frozen=True)
class HummedMelody:
    name: str
    split: str  # "tune" or "test"
    notes: tuple[SungNote, ...]
    audio: np.ndarray  # mono float32 at RATE
    detune_cents: float


def melodies(split: str | None = None) -> list[HummedMelody]:
    sung = [_sing(name, notes) for name, notes in _scores()]
    return [melody for melody in sung if split is None or melody.split == split]


@cache
def _scores() -> tuple[tuple[str, tuple[tuple[float, float, int], ...]], ...]:
    """(name, ((onset, duration, MIDI pitch) in quarter lengths, ...)) of every melody."""
    from music21 import corpus, stream

    paths = sorted(str(p).split("/corpus/", 1)[1] for p in corpus.getCorePaths())
    folk = [p for p in paths if p.startswith("ryansMammoth/")][7::61][: MELODY_COUNT["folk"]]
    chorales = [p for p in paths if p.startswith("bach/") and p.endswith(".mxl")][3::37][: MELODY_COUNT["chorale"]]
    found = []
    for path in folk + chorales:
        score = cast(stream.Score, corpus.parse(path)).stripTies()
        line = score.parts[0] if score.parts else score
        notes = [
            (float(n.offset), float(n.quarterLength), max(p.midi for p in n.pitches))
            for n in line.flatten().notes
            if n.quarterLength > 0
        ]
        found.append((path.rsplit(".", 1)[0], tuple(notes)))
    found += [(f"random/{index}", _random_walk(f"random/{index}")) for index in range(MELODY_COUNT["random"])]
    return tuple(found)


def _random_walk(name: str) -> tuple[tuple[float, float, int], ...]:
    rng = np.random.default_rng(int(unit(name, "walk") * 2**32))
    notes, at, degree = [], 0.0, 0
    scale = (0, 2, 4, 5, 7, 9, 11)
    while at < 40:
        length = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
        repeat = rng.random() < 0.15
        degree = int(np.clip(degree + (0 if repeat else rng.choice([-4, -3, -2, -1, -1, 1, 1, 2, 3, 5])), -7, 10))
        note_pitch = 60 + 12 * (degree // 7) + scale[degree % 7]
        notes.append((at, length * 0.9 if rng.random() < 0.2 else length, note_pitch))
        at += length + (1.0 if rng.random() < 0.1 else 0.0)
    return tuple(notes)


def _sing(name: str, score: tuple[tuple[float, float, int], ...]) -> HummedMelody:
    rng = np.random.default_rng(int(unit(name, "voice") * 2**32))
    median_quarters = float(np.median([length for _, length, _ in score]))
    seconds_per_quarter = rng.uniform(0.3, 0.5) / median_quarters
    seconds_per_quarter = max(seconds_per_quarter, 0.14 / min(length for _, length, _ in score))
    voice = "male" if unit(name, "range") < 0.5 else "female"
    shift = RANGES[voice] - int(np.median([note for _, _, note in score]))
    wanted = rng.uniform(8.0, 16.0)
    lead_in = rng.uniform(0.2, 0.6)
    notes = []
    for onset, length, note in score:
        start = lead_in + onset * seconds_per_quarter
        if start + length * seconds_per_quarter > wanted:
            break
        notes.append(SungNote(note + shift, round(start, 4), round(start + length * seconds_per_quarter, 4)))
    detune = float(rng.uniform(-30, 30))
    audio = _voice(notes, detune, voice, str(rng.choice(list(VOWELS))), rng)
    return HummedMelody(name, "test" if unit(name, "split") < 0.5 else "tune", tuple(notes), audio, detune)


def _voice(notes: list[SungNote], detune: float, voice: str, vowel: str, rng: np.random.Generator) -> np.ndarray:
    """The f0 contour and loudness of the whole line, then the voice sound from them."""
    total = int((notes[-1].offset + 0.6) * RATE)
    cents = np.full(total, np.nan)
    loudness = np.zeros(total)
    previous: SungNote | None = None
    for note in notes:
        start, end = int(note.onset * RATE), int(note.offset * RATE)
        t = np.arange(end - start) / RATE
        contour = np.full(len(t), 100.0 * note.pitch + detune)
        legato_in = _legato(previous, note)
        if legato_in and previous is not None and rng.random() < 0.35:  # legato_in implies a previous note
            glide = rng.uniform(0.06, 0.12)
            shape = 0.5 + 0.5 * np.cos(np.pi * np.clip(t / glide, 0, 1))
            contour += 100.0 * (previous.pitch - note.pitch) * shape
        if len(t) / RATE > 0.35 and rng.random() < 0.8:
            delay, depth, speed = rng.uniform(0.1, 0.3), rng.uniform(30, 60), rng.uniform(5.0, 6.0)
            ramp = np.clip((t - delay) / 0.15, 0, 1)
            contour += depth * ramp * np.sin(2 * np.pi * speed * t + rng.uniform(0, 2 * np.pi))
        following = next((n for n in notes if n.onset >= note.offset - 0.01), None)
        # Legato (a new pitch straight after): the loudness dips to half. Otherwise (a repeated note, a
        # rest) the voice stops and the next note starts softly from nothing.
        attack, attack_floor = (0.03, 0.5) if legato_in else (rng.uniform(0.02, 0.06), 0.0)
        release, release_floor = (0.03, 0.5) if _legato(note, following) else (rng.uniform(0.04, 0.08), 0.0)
        envelope = np.minimum(
            attack_floor + (1 - attack_floor) * np.clip(t / attack, 0, 1),
            release_floor + (1 - release_floor) * np.clip((t[-1] - t) / release, 0, 1),
        )
        cents[start:end] = contour
        loudness[start:end] = envelope * rng.uniform(0.6, 1.0)
        previous = note
    cents = _fill_gaps(cents)
    return _source_filter(cents, loudness, voice, vowel, rng)


def _legato(first: SungNote | None, second: SungNote | None) -> bool:
    """A new pitch sung straight after the previous one, without a break."""
    return (
        first is not None and second is not None and second.onset - first.offset < 0.01 and first.pitch != second.pitch
    )


def _fill_gaps(cents: np.ndarray) -> np.ndarray:
    """Holds the pitch through silences so the phase stays continuous."""
    known = np.flatnonzero(~np.isnan(cents))
    return np.interp(np.arange(len(cents)), known, cents[known])


def _source_filter(cents: np.ndarray, loudness: np.ndarray, voice: str, vowel: str, rng) -> np.ndarray:
    f0 = 440.0 * 2 ** ((cents / 100 - 69) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    frequencies, gains = VOWELS[vowel]
    scale = 1.15 if voice == "female" else 1.0
    sound = np.zeros(len(f0))
    for harmonic in range(1, int(5000 / f0.min()) + 1):
        partial = harmonic * f0
        response = sum(
            gain / (1 + ((partial - scale * formant) / (bandwidth / 2)) ** 2)
            for formant, gain, bandwidth in zip(frequencies, gains, FORMANT_BANDWIDTHS, strict=True)
        )
        audible = partial < 0.45 * RATE
        sound += audible * (response + 0.01) / harmonic**2 * np.sin(harmonic * phase)
    sound *= loudness / max(1e-9, np.percentile(np.abs(sound[loudness > 0.5]), 99))
    breath = np.diff(rng.standard_normal(len(f0) + 1))  # high-passed noise
    sound += breath * (0.01 * loudness + 0.003)
    for start in _rests(loudness):
        count = int(rng.uniform(0.2, 0.35) * RATE)
        burst = np.diff(rng.standard_normal(count + 1)) * np.hanning(count) * 0.04
        at = max(0, start - count - int(0.05 * RATE))
        sound[at : at + count] += burst[: len(sound) - at]
    return (0.3 * sound / np.max(np.abs(sound))).astype(np.float32)


def _rests(loudness: np.ndarray) -> list[int]:
    """Sample indices where singing resumes after at least 0.3 s of silence (a breath comes before)."""
    silent = loudness <= 0
    starts = np.flatnonzero(silent[:-1] & ~silent[1:]) + 1
    return [int(s) for s in starts if s > 0.3 * RATE and silent[int(s - 0.3 * RATE) : s].all()]


def note_f1(melody: HummedMelody, found: transcription.Transcription) -> float:
    reference = np.array([[n.onset, n.offset] for n in melody.notes])
    estimated = np.array([[n.onset, n.offset] for n in found.notes]).reshape(-1, 2)
    _, _, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        reference,
        librosa.midi_to_hz(np.array([n.pitch for n in melody.notes])),
        estimated,
        librosa.midi_to_hz(np.array([n.pitch for n in found.notes])),
        onset_tolerance=0.05,
        pitch_tolerance=50.0,
        offset_ratio=None,  # pyright: ignore[reportArgumentType]  # mir_eval: None ignores offsets
    )
    return float(f1)


def naive(melody: HummedMelody) -> transcription.Transcription:
    """The naive anchor: pYIN's voiced frames rounded to semitones, runs of one semitone >= 80 ms."""
    track = pitch.track(melody.audio, RATE, tracker="pyin")
    rounded = np.where(track.periodicity > 0.5, np.round(track.midi), -1).astype(int)
    changes = np.flatnonzero(np.diff(rounded)) + 1
    bounds = np.concatenate([[0], changes, [len(rounded)]])
    notes = [
        transcription.TranscribedNote(int(rounded[a]), a * track.hop_seconds, b * track.hop_seconds, 1.0)
        for a, b in itertools.pairwise(bounds)
        if rounded[a] >= 0 and (b - a) * track.hop_seconds >= transcription.MIN_NOTE_SECONDS
    ]
    return transcription.Transcription(notes, 0.0, "naive")


def hum_figures(split: str = "test") -> dict[str, float]:
    """Note F1 per tracker (and the naive anchor), tuning error, and seconds per audio minute."""
    chosen = melodies(split)
    transcription.transcribe(chosen[0].audio[:RATE], RATE)  # load the model and compile before timing
    scores: dict[str, list[float]] = {"": [], "_pyin": [], "_naive": []}
    tuning_errors, seconds, cpu_seconds = [], 0.0, 0.0
    for melody in chosen:
        began, cpu_began = time.perf_counter(), time.process_time()
        found = transcription.transcribe(melody.audio, RATE)
        seconds += time.perf_counter() - began
        cpu_seconds += time.process_time() - cpu_began
        scores[""].append(note_f1(melody, found))
        tuning_errors.append(abs(found.tuning_cents - melody.detune_cents))
        scores["_pyin"].append(note_f1(melody, transcription.transcribe(melody.audio, RATE, tracker="pyin")))
        scores["_naive"].append(note_f1(melody, naive(melody)))
    minutes = sum(len(m.audio) for m in chosen) / RATE / 60
    figures = {f"hum_note_f1{suffix}": round(float(np.mean(values)), 4) for suffix, values in scores.items()}
    figures |= {
        "hum_tuning_error_cents_median": round(float(np.median(tuning_errors)), 2),
        "hum_s_per_audio_min": round(seconds / minutes, 3),
        "hum_cpu_s_per_audio_min": round(cpu_seconds / minutes, 3),  # all threads; steadier on a shared machine
        "hum_melodies": len(chosen),
    }
    return figures


if __name__ == "__main__":
    print(json.dumps(hum_figures(), indent=2))
