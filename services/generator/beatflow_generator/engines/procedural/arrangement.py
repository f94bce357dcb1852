"""The symbolic layer: notes per stem, as pretty_midi instruments, from a style, a key and a seed.

Each stem draws from its own random generator (seeded by the piece's seed and the stem's name),
so adding or removing one stem never changes the notes of another.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass

import numpy as np
import pretty_midi

from beatflow_audio.theory import MINOR_SCALE, NATURAL_MINOR_SCALE, Key
from beatflow_generator.engines.procedural.prompt import PromptReading
from beatflow_generator.engines.procedural.styles import (
    BACKBEAT,
    BY_NAME,
    CRASH,
    EIGHTHS,
    HAT,
    KICK,
    MODAL_PROGRESSIONS,
    RIM,
    STANDARD_KIT,
    Part,
    Style,
)
from beatflow_generator.spec import Note

DRUM_VELOCITY = {"X": 112, "x": 86, "o": 42}
ENERGY_VELOCITY = {"low": -10, "medium": 0, "high": 8}
GENTLE_GROOVE = {KICK: "X.......X.......", RIM: BACKBEAT, HAT: EIGHTHS}  # "with drums" for a drumless style
DRUM_SECONDS = 0.12


@dataclass(frozen=True)
class Grid:
    """Where a sixteenth-note step of a bar falls in time, swing included."""

    bpm: int
    swing: float
    swing_eighths: bool

    @property
    def bar_seconds(self) -> float:
        return 240.0 / self.bpm

    @property
    def step_seconds(self) -> float:
        return 15.0 / self.bpm

    def time(self, bar: int, step: float) -> float:
        """Time of `step` (0..15, may be fractional or beyond) in `bar`."""
        offset = 0.0
        whole = int(step)
        if whole == step:
            if self.swing_eighths and whole % 4 == 2:
                offset = self.swing * 2 * self.step_seconds
            elif not self.swing_eighths and whole % 2:
                offset = self.swing * self.step_seconds
        return bar * self.bar_seconds + step * self.step_seconds + offset


@dataclass(frozen=True)
class Arrangement:
    """A piece as notes: one pretty_midi instrument per stem, in stem order."""

    reading: PromptReading
    key: Key
    bpm: int
    seconds: float
    chords: tuple[int, ...]  # scale degree of each bar's chord
    parts: dict[str, pretty_midi.Instrument]
    melody: tuple[Note, ...]

    def midi(self) -> dict[str, pretty_midi.PrettyMIDI]:
        """One MIDI file per stem, at the piece's tempo."""
        files = {}
        for name, instrument in self.parts.items():
            midi = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=float(self.bpm))
            midi.instruments.append(instrument)
            files[name] = midi
        return files


def harmony_scale(key: Key, degree: int) -> tuple[int, ...]:
    """The scale over the chord on `degree`. A tonal minor key uses the natural minor except on the
    dominant and the leading-tone chord, which take the raised seventh."""
    if key.minor and not key.mode:
        return MINOR_SCALE if degree % 7 in (4, 6) else NATURAL_MINOR_SCALE
    return key.scale


def chord_pitch_class(key: Key, degree: int, index: int) -> int:
    """Pitch class of the `index`-th stacked third (0 root, 1 third, 2 fifth, 3 seventh, 4 ninth)
    of the chord on `degree`."""
    return (key.tonic + harmony_scale(key, degree)[(degree + 2 * index) % 7]) % 12


def _in_band(pitch_class: int, low: int) -> int:
    """The pitch of `pitch_class` in the octave starting at MIDI note `low`."""
    return low + (pitch_class - low) % 12


def _voicing(key: Key, degree: int, part: Part) -> list[int]:
    indices = {1: (1,), 2: (1, 2), 3: (0, 1, 2), 4: (0, 1, 2, 3), 5: (1, 2, 3, 4)}[part.voices]
    low = 12 * (part.octave + 1) + 5  # voicings sit from F upwards: inversions follow the chord
    return sorted(_in_band(chord_pitch_class(key, degree, index), low) for index in indices)


def _events(rhythm: str) -> list[tuple[int, str, int]]:
    """(step, symbol, steps held) for each note-starting symbol of a rhythm string."""
    events = []
    for step, symbol in enumerate(rhythm):
        if symbol in ".-":
            continue
        held = 1
        while step + held < len(rhythm) and rhythm[step + held] == "-":
            held += 1
        events.append((step, symbol, held))
    return events


def _bar_events(rhythm: str, bar: int) -> list[tuple[int, str, int]]:
    """The events of `bar` from a one- or two-bar rhythm, steps within the bar."""
    bars = max(1, len(rhythm) // 16)
    first = (bar % bars) * 16
    return [(step - first, symbol, held) for step, symbol, held in _events(rhythm) if first <= step < first + 16]


class _Composer:
    """Writes each stem's notes over one chord per bar."""

    def __init__(
        self, reading: PromptReading, key: Key, grid: Grid, chords: tuple[int, ...], seconds: float, seed: int
    ):
        self.reading = reading
        self.key = key
        self.grid = grid
        self.chords = chords
        self.seconds = seconds
        self.seed = seed
        self.lift = ENERGY_VELOCITY[reading.energy]

    def rng(self, stem: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(stem.encode())])

    def add(self, instrument: pretty_midi.Instrument, velocity: int, pitch: int, start: float, end: float) -> None:
        if start >= self.seconds - 1e-6:
            return
        end = min(end, self.seconds)
        velocity = int(np.clip(velocity + self.lift, 1, 127))
        instrument.notes.append(pretty_midi.Note(velocity, int(pitch), float(start), float(end)))

    def drums(self, style: Style, kit: int, groove: dict[int, str]) -> pretty_midi.Instrument:
        rng = self.rng("drums")
        instrument = pretty_midi.Instrument(kit, is_drum=True, name="drums")
        for bar in range(len(self.chords)):
            patterns = {**groove, **style.fill} if bar % 4 == 3 else groove
            if style.crash_every and bar % style.crash_every == 0:
                self.add(instrument, 100, CRASH, self.grid.time(bar, 0), self.grid.time(bar, 0) + DRUM_SECONDS)
            for note, rhythm in patterns.items():
                for step, symbol, _ in _bar_events(rhythm, bar):
                    start = self.grid.time(bar, step)
                    velocity = DRUM_VELOCITY[symbol] + int(rng.integers(-6, 7))
                    self.add(instrument, velocity, note, start, start + DRUM_SECONDS)
        return instrument

    def bass(self, part: Part) -> pretty_midi.Instrument:
        rng = self.rng("bass")
        instrument = pretty_midi.Instrument(part.program, name="bass")
        low = 12 * (part.octave + 1) + 4  # roots sit from E upwards
        for bar, degree in enumerate(self.chords):
            root = _in_band(chord_pitch_class(self.key, degree, 0), low)
            following = _in_band(chord_pitch_class(self.key, self.chords[(bar + 1) % len(self.chords)], 0), low)
            intervals = {str(i): (chord_pitch_class(self.key, degree, i) - root) % 12 for i in range(4)}
            for step, symbol, held in _bar_events(part.rhythm, bar):
                if symbol == "W":
                    pitch = self._walk(root, following, intervals, step // 4, rng)
                else:
                    offsets = {"R": 0, "O": 12, "3": intervals["1"], "5": intervals["2"], "7": intervals["3"]}
                    pitch = following - 1 if symbol == "A" else root + offsets[symbol]
                start = self.grid.time(bar, step)
                self.add(instrument, part.velocity, pitch, start, start + held * self.grid.step_seconds * 0.92)
        return instrument

    @staticmethod
    def _walk(root: int, following: int, intervals: dict[str, int], beat: int, rng) -> int:
        """A walking line: the root on beat 1, chord tones on 2 and 3, a chromatic approach on 4."""
        if beat == 0:
            return root
        if beat == 3:
            return following + (1 if rng.random() < 0.4 else -1)
        return root + intervals[str(int(rng.integers(1, 3)) if beat == 1 else 2)] + (12 if rng.random() < 0.2 else 0)

    def comping(self, name: str, part: Part) -> pretty_midi.Instrument:
        instrument = pretty_midi.Instrument(part.program, name=name)
        arpeggio = 0
        for bar, degree in enumerate(self.chords):
            voicing = _voicing(self.key, degree, part)
            for step, symbol, held in _bar_events(part.rhythm, bar):
                start = self.grid.time(bar, step)
                end = start + held * self.grid.step_seconds * 0.95
                if symbol == "a":
                    pitches = voicing + [pitch + 12 for pitch in voicing]
                    self.add(instrument, part.velocity, pitches[arpeggio % len(pitches)], start, end)
                    arpeggio += 1
                    continue
                velocity = part.velocity if symbol == "X" else part.velocity - 15
                for pitch in voicing:
                    self.add(instrument, velocity, pitch, start, end)
        return instrument

    def melody(self, part: Part, density: float) -> tuple[pretty_midi.Instrument, tuple[Note, ...]]:
        """A seeded line: a one-bar rhythm motif per phrase, chord tones on strong beats, steps
        between them, and each four-bar phrase closing on the tonic."""
        rng = self.rng("melody")
        if self.reading.energy == "high":
            density = min(1.0, density + 0.15)
        elif self.reading.energy == "low":
            density *= 0.7
        eighth = 2  # steps
        low = 12 * (part.octave + 1) + self.key.tonic
        degree = 7  # scale-degree index from `low`: the tonic an octave up
        notes = []
        motif: list[int] = []  # chosen at every fourth bar, the first included
        for bar, chord in enumerate(self.chords):
            if bar % 2 == 0:
                motif = [slot for slot in range(8) if slot == 0 or rng.random() < density] if bar % 4 == 0 else motif
            closing = bar % 4 == 3
            slots = [0, 4] if closing else motif
            scale = harmony_scale(self.key, chord)
            for index, slot in enumerate(slots):
                if closing and slot == 4:
                    degree = 7 if abs(7 - degree) <= abs(0 - degree) + 3 else 0
                elif slot % 4 == 0:
                    # Strong beats land on a chord tone, one shared with the tonic triad when the
                    # chord has one: the key's tonic and third stay prominent.
                    tones = [chord + offset + 7 * octave for offset in (0, 2, 4) for octave in (-1, 0, 1, 2)]
                    tonal = [tone for tone in tones if tone % 7 in (0, 2, 4)]
                    degree = min(tonal or tones, key=lambda tone: (abs(tone - degree), tone))
                else:
                    degree = int(np.clip(degree + rng.choice([-2, -1, -1, 1, 1, 2]), 3, 13))
                following = slots[index + 1] if index + 1 < len(slots) else 8
                length = min(following - slot, 4) * eighth
                steps, position = divmod(degree, 7)
                pitch = low + 12 * steps + scale[position]
                start = self.grid.time(bar, slot * eighth)
                notes.append(Note(start, length * self.grid.step_seconds * 0.9, pitch))
        instrument = pretty_midi.Instrument(part.program, name="melody")
        for note in notes:
            self.add(instrument, part.velocity, note.pitch, note.start, note.start + note.length)
        return instrument, tuple(note for note in notes if note.start < self.seconds)


def progression_for(style: Style, key: Key, rng: np.random.Generator) -> tuple[int, ...]:
    if key.mode:
        choices = MODAL_PROGRESSIONS[key.mode]
    else:
        choices = style.minor_progressions if key.minor else style.major_progressions
    return choices[int(rng.integers(len(choices)))]


def bars_in(seconds: float, bpm: int) -> int:
    """Bars a piece of `seconds` at `bpm` starts (the last one may be cut short)."""
    return max(1, math.ceil(seconds / (240.0 / bpm) - 1e-9))


def arrange(
    reading: PromptReading,
    seconds: float,
    seed: int,
    melody: tuple[Note, ...] = (),
    *,
    chords: tuple[int, ...] | None = None,
    style: Style | None = None,
) -> Arrangement:
    """Notes for every stem of the piece `reading` describes; `melody` (a hummed one) replaces the
    composed line. Creative operations pass the `chords` to keep (one per bar) and a varied `style`."""
    style = style or BY_NAME[reading.style]
    key, bpm = reading.key, reading.bpm
    grid = Grid(bpm, style.swing, style.swing_eighths)
    if chords is None:
        progression = progression_for(style, key, np.random.default_rng([seed, zlib.crc32(b"harmony")]))
        chords = tuple(progression[bar % len(progression)] for bar in range(bars_in(seconds, bpm)))
    composer = _Composer(reading, key, grid, chords, seconds, seed)
    programs = reading.instruments

    def with_program(stem: str, part: Part) -> Part:
        return dataclasses.replace(part, program=programs[stem]) if stem in programs else part

    parts: dict[str, pretty_midi.Instrument] = {}
    if style.kit is not None or reading.wants_drums:
        kit = style.kit if style.kit is not None else STANDARD_KIT
        parts["drums"] = composer.drums(style, kit, style.groove if style.kit is not None else GENTLE_GROOVE)
    parts["bass"] = composer.bass(with_program("bass", style.bass))
    parts["chords"] = composer.comping("chords", with_program("chords", style.chords))
    melody_part = with_program("melody", style.melody)
    if melody:
        line = pretty_midi.Instrument(melody_part.program, name="melody")
        for note in melody:
            composer.add(line, melody_part.velocity, note.pitch, note.start, note.start + max(note.length, 0.05))
        parts["melody"] = line
    elif melody_part.rhythm:
        parts["melody"] = composer.comping("melody", melody_part)
    else:
        parts["melody"], melody = composer.melody(melody_part, style.melody_density)
    for name, part in {**style.extras, **reading.added_parts}.items():
        parts[name] = composer.comping(name, with_program(name, part))
    parts = {name: part for name, part in parts.items() if name not in reading.removed}
    return Arrangement(reading, key, bpm, seconds, chords, parts, tuple(melody))
