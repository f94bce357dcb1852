"""Hum-to-beat: a sung or hummed recording -> a melody quantised to the key and tempo of the beat.

`beatflow_audio.transcription` finds the sung notes (CREPE pitch model, pYIN as fallback) and the
singer's tuning; the key comes from the request or from the notes' pitch classes, the tempo from the
request or from the recording's onsets; notes are snapped to an eighth-note grid and to the key's
scale, moved to a singing octave, and the phrase repeats to fill the requested duration.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from beatflow_audio import codec
from beatflow_audio.analysis import ANALYSIS_RATE, analysis_signal
from beatflow_audio.rhythm import estimate_rhythm
from beatflow_audio.theory import Key
from beatflow_audio.tonality import key_of_notes
from beatflow_audio.transcription import Transcription
from beatflow_audio.transcription import transcribe as transcribe_notes
from beatflow_generator.spec import GenerationSpec, Note
from beatflow_platform import naming
from beatflow_platform.errors import InvalidArgument

MIN_MELODY_SECONDS = 0.4  # less steady pitch than this is noise, not a melody
SILENCE_RMS = 1e-3
MELODY_RANGE = (60, 76)  # the median note lands in C4..E5


@dataclass(frozen=True)
class Melody:
    notes: tuple[Note, ...]
    bpm: int
    key: Key
    sung: Transcription  # what was heard, before quantising: notes in seconds, tuning, tracker

    def apply_to(self, spec: GenerationSpec) -> GenerationSpec:
        return dataclasses.replace(spec, melody=self.notes, bpm=self.bpm, key=self.key)


def _snap_to_scale(pitch: float, key: Key) -> int:
    candidates = [12 * octave + key.tonic + step for octave in range(11) for step in key.scale]
    return min(candidates, key=lambda candidate: (abs(candidate - pitch), candidate))


def load_recording(data: bytes, *, max_seconds: float) -> tuple[np.ndarray, int]:
    """Decodes a hum; refuses what is too long or silent."""
    samples, rate = codec.decode(data)
    if len(samples) / rate > max_seconds:
        raise InvalidArgument(
            f"the hum is {len(samples) / rate:.0f} s long; the limit is {max_seconds:.0f} s", reason="HUM_TOO_LONG"
        )
    if float(np.sqrt(np.mean(samples**2))) < SILENCE_RMS:
        raise InvalidArgument("the recording is silent", reason="SILENT_HUM")
    return samples, rate


def transcribe(data: bytes, spec: GenerationSpec, *, max_seconds: float) -> Melody:
    samples, rate = load_recording(data, max_seconds=max_seconds)
    mono = codec.to_mono(samples)
    sung = transcribe_notes(mono, rate)
    segments = [(note.onset, note.offset - note.onset, note.pitch) for note in sung.notes]
    if sum(length for _, length, _ in segments) < MIN_MELODY_SECONDS:
        raise InvalidArgument("no sung or hummed melody was found in the recording", reason="NO_MELODY")

    key = spec.key
    if key is None:
        weights = np.zeros(12)
        for _, length, pitch in segments:
            weights[pitch % 12] += length
        key = key_of_notes(weights)
    bpm = spec.bpm
    if not bpm:
        estimated = estimate_rhythm(analysis_signal(samples, rate), ANALYSIS_RATE).bpm
        bpm = round(min(max(estimated, naming.MIN_GENERATION_BPM), naming.MAX_GENERATION_BPM))

    grid = 30.0 / bpm  # an eighth note
    first = segments[0][0]
    median = float(np.median([pitch for _, _, pitch in segments]))
    shift = 12 * math.ceil((sum(MELODY_RANGE) / 2 - median) / 12 - 0.5)  # halfway: the lower octave
    phrase = []
    for start, length, pitch in segments:
        onset = round((start - first) / grid) * grid
        span = max(grid, round(length / grid) * grid)
        note = Note(onset, span * 0.95, _snap_to_scale(pitch + shift, key))
        if phrase and abs(phrase[-1].start - onset) < 1e-9:
            continue  # two fragments on one grid slot: keep the first
        phrase.append(note)

    bar = 4 * 60.0 / bpm
    phrase_length = math.ceil((phrase[-1].start + phrase[-1].length) / bar) * bar
    notes = [
        dataclasses.replace(note, start=note.start + repeat * phrase_length)
        for repeat in range(math.ceil(spec.duration_seconds / phrase_length))
        for note in phrase
        if note.start + repeat * phrase_length < spec.duration_seconds
    ]
    return Melody(tuple(notes), bpm, key, sung)
