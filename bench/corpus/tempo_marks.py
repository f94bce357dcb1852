"""The tempo a score asks for, where it says so: a metronome mark, or tempo words.

A performer reads "Slow" over an air written in quarter and sixteenth notes and plays the quarter
note at about 60, not at 160; a listener then taps that quarter note. A bench that ignored the words
would play such an air at any tempo of its range and call the written quarter note the beat even
where it passes by too fast to be tapped. So the bench performs a marked score within the marking's
range, and the truth (the score's beat unit) stays what a listener of that performance taps.

Sources of a marking, first found wins: the metronome mark sounding at the excerpt start (music21
`MetronomeMark` with an explicit number, converted to the score's beat unit), the words of that mark,
and for ABC tunes the words of the tune's `N:` field (O'Neill's airs: "Slow", "Moderate", "With
spirit", ...), which music21 does not read. The word ranges are the common metronome tables'
(largo 40-60, adagio 66-76, andante 76-108, moderato 108-120, allegro 120-156, vivace 156-176,
presto 168-200), widened a little where a table's neighbours overlap, and the English words of the
folk collections are read as their Italian equivalents. They count beats of the score's beat unit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

from music21 import duration, stream, tempo

# (pattern, (low, high) bpm). The first pattern that matches a marking wins, so compound words
# ("Slow with expression", "Very slow", "andante moderato") are listed before their parts.
WORD_RANGES: tuple[tuple[str, tuple[float, float]], ...] = (
    (r"very slow|grave|largo|larghetto|lento", (40.0, 60.0)),
    (r"andante moderato|moderately slow", (80.0, 108.0)),
    (r"slow|adagio|mournful|plaintive", (55.0, 76.0)),
    (r"tender|express|feeling|grace|andante|cantabile", (66.0, 96.0)),
    (r"moderat", (80.0, 112.0)),
    (r"allegretto|cheerful|gaily|playful|spirit|lively|animato", (104.0, 140.0)),
    (r"presto|prestissimo|vivacissimo", (168.0, 200.0)),
    (r"vivace|vivo|quick|fast", (150.0, 176.0)),
    (r"allegro", (120.0, 156.0)),
)
METRONOME_SPREAD = 0.05  # a performance keeps within +-5 % of the metronome mark


def word_range(words: str) -> tuple[float, float] | None:
    """The tempo range (bpm of the beat) that tempo words ask for, None where they name none."""
    lowered = words.lower()
    for pattern, bpm_range in WORD_RANGES:
        if re.search(rf"\b(?:{pattern})", lowered):
            return bpm_range
    return None


def marked_range(
    score: stream.Score, start: float, beat_length: float, abc_notes: str = ""
) -> tuple[float, float] | None:
    """The tempo range in beats (of `beat_length` quarters) per minute that the score marks at `start`
    (quarter lengths), or None where it marks none; `abc_notes` is an ABC tune's `N:` text."""
    marks = score.flatten().getElementsByClass(tempo.MetronomeMark).getElementsByOffset(0, start)
    mark = marks.last()
    if mark is not None and mark.number is not None and not mark.numberImplicit:
        bpm = float(mark.number) * float(cast(duration.Duration, mark.referent).quarterLength) / beat_length
        return bpm * (1 - METRONOME_SPREAD), bpm * (1 + METRONOME_SPREAD)
    if mark is not None and mark.text and (from_words := word_range(cast(str, mark.text))) is not None:
        return from_words
    return word_range(abc_notes) if abc_notes else None


def abc_notes(path: Path, number: int | None) -> str:
    """The `N:` lines of tune `number` (or of the file's only tune) in an ABC file, joined."""
    notes, inside = [], number is None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("X:"):
            inside = number is None or line[2:].strip() == str(number)
        elif inside and line.startswith("N:"):
            notes.append(line[2:].strip().strip('"'))
    return " ".join(notes)
