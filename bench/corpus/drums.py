"""Bench-written General MIDI drum parts in a score's meter (not the project's generator).

A pattern is written per beat: `subdivisions` notes per beat (2 in simple meters, 3 in compound ones),
bar-level accents on the downbeat and backbeats. Swing moves the off-beat eighth to two thirds of the beat.
"""

from __future__ import annotations

KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, RIDE, SHAKER = 36, 37, 38, 39, 42, 44, 46, 51, 70
STYLES = ("rock", "swing", "light", "dance")

Hit = tuple[float, int, int]  # (time in beats from the excerpt start, GM drum note, velocity)


def styles_for(compound: bool) -> tuple[str, ...]:
    """Swing is for simple meters (a compound beat is already in threes)."""
    return tuple(s for s in STYLES if not (compound and s == "swing"))


def pattern(style: str, beats_per_bar: int, compound: bool, bars: int) -> list[Hit]:
    subdivisions = 3 if compound else 2
    hits: list[Hit] = []
    for bar in range(bars):
        for beat in range(beats_per_bar):
            time = float(bar * beats_per_bar + beat)
            hits += _beat(style, beat, beats_per_bar, subdivisions, time)
    return hits


def _backbeat(beat: int, beats_per_bar: int) -> bool:
    return beat % 2 == 1 if beats_per_bar in (2, 4) else beat > 0


def _beat(style: str, beat: int, beats_per_bar: int, subdivisions: int, time: float) -> list[Hit]:
    downbeat, backbeat = beat == 0, _backbeat(beat, beats_per_bar)
    offbeats = [time + k / subdivisions for k in range(1, subdivisions)]
    hits: list[Hit] = []
    if style == "rock":
        hits += [(time, CLOSED_HAT, 90 if downbeat else 75)] + [(t, CLOSED_HAT, 60) for t in offbeats]
        if downbeat or (beats_per_bar == 4 and beat == 2):
            hits.append((time, KICK, 110 if downbeat else 95))
        if backbeat:
            hits.append((time, SNARE, 100 if beats_per_bar != 3 else 80))
    elif style == "swing":
        hits += [(time, RIDE, 85 if downbeat else 75), (time + 2 / 3, RIDE, 60)]
        if backbeat:
            hits.append((time, PEDAL_HAT, 70))
        if downbeat:
            hits.append((time, KICK, 80))
    elif style == "light":
        hits += [(time, SHAKER, 70)] + [(t, SHAKER, 50) for t in offbeats]
        if downbeat:
            hits.append((time, KICK, 90))
        if backbeat:
            hits.append((time, SIDE_STICK, 80))
    elif style == "dance":
        hits += [(time, KICK, 110 if downbeat else 100)] + [(t, OPEN_HAT, 65) for t in offbeats[-1:]]
        if backbeat:
            hits.append((time, CLAP, 95))
    else:
        raise ValueError(f"unknown drum style {style!r}")
    return hits
