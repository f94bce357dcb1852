"""Short pieces rendered with FluidSynth for the analysis tests: block chords, a bass line and a melody."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pretty_midi

from beatflow_audio import soundfont

RATE = 22050
_BEND_SEMITONES = 2  # General MIDI's default pitch-bend range


def triad(root: int, minor: bool = False) -> tuple[int, int, int]:
    """MIDI notes of a root-position triad."""
    return root, root + (3 if minor else 4), root + 7


def render(
    chords: Sequence[Sequence[int]],
    melody: Sequence[int | None] = (),
    *,
    bpm: float = 100.0,
    beats_per_chord: int = 4,
    program: int = 0,
    bass: Sequence[int] | None = None,
    cents: float = 0.0,
) -> tuple[np.ndarray, list[float]]:
    """Mono audio at RATE and its beat times: each chord held for `beats_per_chord` beats over a bass
    note (an octave under the chord's lowest note unless `bass` names them), the melody one note a
    beat (None rests); every part detuned by `cents` with a pitch bend."""
    beat = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    harmony = pretty_midi.Instrument(program=program)
    low = pretty_midi.Instrument(program=32)
    lead = pretty_midi.Instrument(program=73)
    bass_notes = bass if bass is not None else [min(chord) - 12 for chord in chords]
    for index, (chord, bass_note) in enumerate(zip(chords, bass_notes, strict=True)):
        start, end = index * beats_per_chord * beat, (index + 1) * beats_per_chord * beat
        harmony.notes += [pretty_midi.Note(70, pitch, start, end - 0.05) for pitch in chord]
        low.notes.append(pretty_midi.Note(90, bass_note, start, end - 0.05))
    for index, pitch in enumerate(melody):
        if pitch is not None:
            lead.notes.append(pretty_midi.Note(85, pitch, index * beat, (index + 0.9) * beat))
    for instrument in (harmony, low, lead):
        instrument.pitch_bends.append(pretty_midi.PitchBend(round(8191 * cents / (100 * _BEND_SEMITONES)), 0.0))
        if instrument.notes:
            midi.instruments.append(instrument)
    beats = len(chords) * beats_per_chord
    return soundfont.render(midi, RATE).mean(axis=1), [i * beat for i in range(beats)]
