"""Pitch classes, keys, modes, scales and chords."""

from __future__ import annotations

import re
from dataclasses import dataclass

from beatflow_platform import naming

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# Harmonic minor: its raised seventh (the leading tone) tells a minor key from its relative major.
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# The church modes, each the major scale started on another degree.
MODES = {
    "ionian": MAJOR_SCALE,
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": NATURAL_MINOR_SCALE,
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
# Every mode name a key may carry: the two tonal modes, then the church modes.
MODE_NAMES = ("major", "minor", *MODES)
_MODE_SPELLINGS = {"major": "major", "maj": "major", "minor": "minor", "min": "minor", "m": "minor"}


@dataclass(frozen=True)
class Key:
    """A tonic and a mode. `mode` is "" for the tonal major and minor keys (which `minor` tells
    apart) or one of `MODES`; `minor` is then whether the mode has a minor third."""

    tonic: int  # pitch class, 0 = C
    minor: bool
    mode: str = ""

    def __post_init__(self):
        if self.mode and self.mode not in MODES:
            raise ValueError(f"not a mode: {self.mode!r}")
        if self.mode and self.minor != (MODES[self.mode][2] == 3):
            raise ValueError(f"{self.mode} has {'a minor' if MODES[self.mode][2] == 3 else 'a major'} third")

    @classmethod
    def of(cls, tonic: int, mode: str) -> Key:
        """A key from a tonic and any of `MODE_NAMES`."""
        if mode in ("major", "minor"):
            return cls(tonic % 12, mode == "minor")
        if mode not in MODES:
            raise ValueError(f"not a mode: {mode!r}")
        return cls(tonic % 12, MODES[mode][2] == 3, mode)

    @property
    def mode_name(self) -> str:
        return self.mode or ("minor" if self.minor else "major")

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode_name}"

    @property
    def scale(self) -> tuple[int, ...]:
        if self.mode:
            return MODES[self.mode]
        return MINOR_SCALE if self.minor else MAJOR_SCALE

    def degree_pitch(self, degree: int, octave: int) -> int:
        """MIDI note of a scale degree (0-based, may exceed 6) in an octave (C4 = 60 is octave 4)."""
        steps, index = divmod(degree, 7)
        return 12 * (octave + 1) + self.tonic + self.scale[index] + 12 * steps

    def triad(self, degree: int, octave: int) -> tuple[int, int, int]:
        return (
            self.degree_pitch(degree, octave),
            self.degree_pitch(degree + 2, octave),
            self.degree_pitch(degree + 4, octave),
        )

    @classmethod
    def parse(cls, text: str) -> Key:
        """'A minor', 'F# major', 'Bb', 'F#m', 'c maj', 'D♯ min', 'C# dorian' -> Key (major unless
        said). Raises ValueError."""
        tonic, mode = spelled_mode(text)
        return cls.of(PITCH_NAMES.index(_FLATS.get(tonic, tonic)), mode)


def spelled_mode(text: str) -> tuple[str, str]:
    """A key in any spelling of `naming.KEY_SIGNATURE` -> (tonic as written, in ASCII, e.g. 'Bb'
    or 'F#'; one of `MODE_NAMES`). Raises ValueError."""
    match = re.fullmatch(naming.KEY_SIGNATURE, text) if len(text) <= naming.MAX_KEY_SIGNATURE_LENGTH else None
    if not match:
        raise ValueError(f"not a key: {text!r}")
    tonic = match[1].upper() + match[2].replace("\u266f", "#").replace("\u266d", "b")
    word = (match[3] or "major").lower()
    return tonic, _MODE_SPELLINGS.get(word, word)


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)
