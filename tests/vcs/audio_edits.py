"""Edits of one stem with their known truth, for tests and the vcs bench of the musical diff.

A stem is a `pretty_midi.PrettyMIDI` with one instrument, rendered with FluidSynth. Each edit
returns the edited stem and the truth: the time range of the head's audio that the edit changed
(from the first affected note's start to the last affected note's end; an insertion is the
inserted span). Level changes act on rendered audio, so their truth is exact.
"""

from __future__ import annotations

import copy

import numpy as np
import pretty_midi

from beatflow_audio import soundfont

RATE = 44100


def random_part(rng: np.random.Generator, program: int, bars: int, bpm: float) -> pretty_midi.PrettyMIDI:
    """A dense line of eighth and quarter notes (no rests) in a middle register."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    instrument = pretty_midi.Instrument(program=program)
    beat, time, end = 60.0 / bpm, 0.0, bars * 4 * 60.0 / bpm
    while time < end - 1e-9:
        length = beat * rng.choice([0.5, 1.0])
        pitch = int(rng.integers(52, 76))
        instrument.notes.append(pretty_midi.Note(int(rng.integers(70, 110)), pitch, time, time + 0.95 * length))
        time += length
    midi.instruments.append(instrument)
    return midi


def render(midi: pretty_midi.PrettyMIDI) -> np.ndarray:
    return soundfont.render(midi, RATE)


def _notes_in(midi: pretty_midi.PrettyMIDI, start: float, end: float) -> list[pretty_midi.Note]:
    return [note for note in midi.instruments[0].notes if start - 1e-6 <= note.start < end - 1e-6]


def _span(notes: list[pretty_midi.Note], extra_end: float = 0.0) -> tuple[float, float]:
    return min(n.start for n in notes), max(n.end for n in notes) + extra_end


def replace(midi: pretty_midi.PrettyMIDI, start: float, end: float) -> tuple[pretty_midi.PrettyMIDI, tuple]:
    """The notes starting in [start, end) a fourth higher."""
    edited = copy.deepcopy(midi)
    notes = _notes_in(edited, start, end)
    for note in notes:
        note.pitch += 5
    return edited, _span(notes)


def mute(midi: pretty_midi.PrettyMIDI, start: float, end: float) -> tuple[pretty_midi.PrettyMIDI, tuple]:
    edited = copy.deepcopy(midi)
    notes = _notes_in(edited, start, end)
    edited.instruments[0].notes = [n for n in edited.instruments[0].notes if n not in notes]
    return edited, _span(notes)


def shift(midi: pretty_midi.PrettyMIDI, start: float, end: float, by: float) -> tuple[pretty_midi.PrettyMIDI, tuple]:
    """The notes starting in [start, end) moved later by `by` seconds."""
    edited = copy.deepcopy(midi)
    notes = _notes_in(edited, start, end)
    truth = _span(notes, by)
    for note in notes:
        note.start, note.end = note.start + by, note.end + by
    return edited, truth


def insert(
    midi: pretty_midi.PrettyMIDI, at: float, material: pretty_midi.PrettyMIDI, length: float
) -> tuple[pretty_midi.PrettyMIDI, tuple]:
    """`length` seconds of `material` (its notes from 0) inserted at `at`; every note from `at` on moves later."""
    edited = copy.deepcopy(midi)
    for note in edited.instruments[0].notes:
        if note.start >= at - 1e-6:
            note.start, note.end = note.start + length, note.end + length
    for note in material.instruments[0].notes:
        if note.start < length:
            end = min(note.end, length)
            edited.instruments[0].notes.append(pretty_midi.Note(note.velocity, note.pitch, note.start + at, end + at))
    edited.instruments[0].notes.sort(key=lambda n: n.start)
    return edited, (at, at + length)


def level(audio: np.ndarray, start: float, end: float, gain_db: float) -> np.ndarray:
    """`gain_db` applied to [start, end) with 5 ms ramps."""
    gains = np.ones(len(audio), dtype=np.float32)
    first, last, ramp = int(start * RATE), int(end * RATE), int(0.005 * RATE)
    target = 10 ** (gain_db / 20)
    gains[first:last] = target
    gains[first : first + ramp] = np.linspace(1.0, target, ramp)
    gains[last - ramp : last] = np.linspace(target, 1.0, ramp)
    return audio * gains[:, None]


def iou(reported: list[tuple[float, float]], truth: tuple[float, float]) -> float:
    """Intersection over union, in seconds, of the union of `reported` intervals and `truth`."""
    grid = np.arange(0.0, max([truth[1], *(end for _, end in reported)]) + 0.01, 0.001)
    ours = np.zeros(len(grid), dtype=bool)
    for start, end in reported:
        ours |= (grid >= start) & (grid < end)
    theirs = (grid >= truth[0]) & (grid < truth[1])
    union = (ours | theirs).sum()
    return float((ours & theirs).sum() / union) if union else 1.0
