"""Pitch classes, keys, scales and chords."""

from __future__ import annotations

import re
from dataclasses import dataclass

from beatflow_platform import naming

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# Harmonic minor: its raised seventh (the leading tone) tells a minor key from its relative major.
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    minor: bool

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {'minor' if self.minor else 'major'}"

    @property
    def scale(self) -> tuple[int, ...]:
        return MINOR_SCALE if self.minor else MAJOR_SCALE

    def degree_pitch(self, degree: int, octave: int) -> int:
        """MIDI note of a scale degree (0-based, may exceed 6) in an octave (C4 = 60 is octave 4)."""
        steps, index = divmod(degree, 7)
        return 12 * (octave + 1) + self.tonic + self.scale[index] + 12 * steps

    def triad(self, degree: int, octave: int) -> tuple[int, int, int]:
        return tuple(self.degree_pitch(degree + offset, octave) for offset in (0, 2, 4))

    @classmethod
    def parse(cls, text: str) -> Key:
        """'A minor', 'F# major', 'Bb', 'F#m', 'c maj', 'D♯ min' -> Key (major unless said). Raises ValueError."""
        tonic, minor = spelled_key(text)
        return cls(PITCH_NAMES.index(_FLATS.get(tonic, tonic)), minor)


def spelled_key(text: str) -> tuple[str, bool]:
    """A key in any spelling of `naming.KEY_SIGNATURE` -> (tonic as written, in ASCII, e.g. 'Bb'
    or 'F#'; minor?). Raises ValueError."""
    match = re.fullmatch(naming.KEY_SIGNATURE, text) if len(text) <= naming.MAX_KEY_SIGNATURE_LENGTH else None
    if not match:
        raise ValueError(f"not a key: {text!r}")
    tonic = match[1].upper() + match[2].replace("\u266f", "#").replace("\u266d", "b")
    return tonic, (match[3] or "").lower() in {"minor", "min", "m"}


def midi_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)
