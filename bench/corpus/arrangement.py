"""An excerpt -> General MIDI (pretty_midi) at a constant tempo, with its instrument set and drums.

Parts keep their order: the first program of an ensemble plays the top part, the last one the bottom
part and the parts between it. Chord symbols (lead sheets) are played as a bench-written
accompaniment: the root in the bass on the bar's first beat (and the middle beat of a 4-beat bar), the
chord on the other beats, so the sounding harmony is exactly the symbol's triad.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pretty_midi

from bench.corpus import drums
from bench.corpus.scores import Excerpt

ENSEMBLES: dict[str, tuple[int, ...]] = {
    "strings": (40, 40, 41, 42),  # violin, violin, viola, cello
    "piano": (0,),
    "church organ": (19,),
    "choir aahs": (52,),
    "brass": (56, 60, 57, 58),  # trumpet, French horn, trombone, tuba
    "woodwinds": (73, 68, 71, 70),  # flute, oboe, clarinet, bassoon
    "nylon guitar": (24,),
    "electric piano": (4,),
    "harpsichord": (6,),
    "synth": (81, 89, 89, 38),  # saw lead, warm pad, synth bass
    "band": (65, 26, 0, 33),  # alto sax, jazz guitar, piano, fingered bass
    "fiddle": (40,),
    "flute": (73,),
    "accordion": (21,),
    "steel guitar": (25,),
}
ACCOMPANIMENTS: dict[str, tuple[int, int]] = {"piano": (0, 32), "steel guitar": (25, 33), "accordion": (21, 32)}


@dataclass(frozen=True)
class Arrangement:
    bpm: float  # beats (the score's beat unit) per minute
    ensemble: str
    drum_style: str | None
    accompaniment: str | None  # for chord symbols


def seconds_per_quarter(excerpt: Excerpt, bpm: float) -> float:
    return 60.0 / (bpm * excerpt.beat_length)


def to_midi(excerpt: Excerpt, arrangement: Arrangement, seed: int) -> pretty_midi.PrettyMIDI:
    """Notes at their exact times (the truth); velocities get +-6 of seeded jitter so the parts do not
    sound machine-flat."""
    scale = seconds_per_quarter(excerpt, arrangement.bpm)
    rng = np.random.default_rng(seed)
    programs = ENSEMBLES[arrangement.ensemble]
    midi = pretty_midi.PrettyMIDI(initial_tempo=arrangement.bpm * excerpt.beat_length)
    instruments: dict[int, pretty_midi.Instrument] = {}
    for note in excerpt.notes:
        program = _program(programs, note.part, excerpt.parts)
        instrument = instruments.setdefault(note.part, pretty_midi.Instrument(program=program))
        velocity = int(np.clip(note.velocity + rng.integers(-6, 7), 30, 120))
        instrument.notes.append(pretty_midi.Note(velocity, note.pitch, note.start * scale, note.end * scale))
    midi.instruments += [instruments[part] for part in sorted(instruments)]
    if excerpt.symbols and arrangement.accompaniment:
        midi.instruments += _accompaniment(excerpt, ACCOMPANIMENTS[arrangement.accompaniment], scale)
    if arrangement.drum_style:
        midi.instruments.append(_drums(excerpt, arrangement.drum_style, scale * excerpt.beat_length))
    return midi


def _program(programs: tuple[int, ...], part: int, parts: int) -> int:
    if part == parts - 1 and parts > 1:
        return programs[-1]
    return programs[min(part, len(programs) - 1)]


def _accompaniment(excerpt: Excerpt, programs: tuple[int, int], scale: float) -> list[pretty_midi.Instrument]:
    chords, bass = pretty_midi.Instrument(program=programs[0]), pretty_midi.Instrument(program=programs[1])
    beat = excerpt.beat_length
    for symbol in excerpt.symbols:
        if not symbol.pitches:
            continue
        time = symbol.start
        while time < symbol.end - 1e-9:
            end = min(time + beat, symbol.end)
            position = round(time / beat) % excerpt.beats_per_bar
            if position == 0 or (excerpt.beats_per_bar == 4 and position == 2):
                bass.notes.append(pretty_midi.Note(85, symbol.pitches[0] - 12, time * scale, end * scale))
            else:
                for pitch in symbol.pitches:
                    chords.notes.append(pretty_midi.Note(65, pitch + 12, time * scale, (time + 0.8 * beat) * scale))
            time = end
    return [chords, bass]


def _drums(excerpt: Excerpt, style: str, seconds_per_beat: float) -> pretty_midi.Instrument:
    kit = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
    bars = round(excerpt.length / excerpt.bar_length)
    for beat, pitch, velocity in drums.pattern(style, excerpt.beats_per_bar, excerpt.compound, bars):
        start = beat * seconds_per_beat
        kit.notes.append(pretty_midi.Note(velocity, pitch, start, start + 0.1))
    return kit
