"""Excerpts of music21 corpus scores with their ground truth, in quarter lengths from the excerpt start.

Rules (what the bench counts as truth, and what it skips):
- Meter: the time signature at the excerpt start; its music21 beat unit is the beat (4/4 -> quarter,
  2/2 -> half, 6/8 -> dotted quarter) and `beatCount` the beats per bar. Only 2, 3 or 4 beats per bar.
- Excerpt: starts at the first full bar (a pickup is skipped), runs bar by bar until the wanted length,
  and stops early at a change of time or key signature or where a full bar leaves the bar grid (partial
  bars at repeats are fine while the grid holds). Notes tied in from before the start are dropped,
  notes sounding past the end are cut. The bench renders at one constant tempo, within the range the
  score marks at the excerpt start where it marks one (`bench.corpus.tempo_marks`); tempo changes
  later in the score do not matter.
- Key: the key signature at the excerpt start. The mode comes from an ABC `K:` field where the source
  has one; otherwise from the last bass note of the whole piece (the lowest note sounding in its last
  quarter note), which must be the tonic of the signature's major key or of its relative minor
  (anything else, e.g. a modal or Phrygian ending: skip). ABC tunes must end on their `K:` tonic by the
  same last-quarter-note rule. With chord symbols, the last symbol's root stands for the last bass note.
  The excerpt must then stay in that key: at least `MIN_IN_SCALE_SHARE` of its note duration in the
  key's scale (minor: natural, harmonic and melodic minor together), and where the excerpt has
  chords the tonic triad must be at least `MIN_TONIC_SHARE` of its labelled beats.
- Chords per beat: the pitch classes sounding at the beat's onset (music21 `chordify` slices are the
  same thing); if they are not a major or minor triad, the pitch classes sounding for more than half of
  the beat. A major or minor triad (any doubling, any inversion) gives "C:maj" / "A:min", anything else
  "X" (mir_eval leaves X out of majmin scores). Where the source carries chord symbols (lead sheets,
  folk tunes) they are the truth instead, each lasting until the next one: major-family symbols (7th,
  maj7, 6th, 9th) read as "root:maj", minor-family as "root:min", other kinds as "X", and no label before
  the first symbol is "X".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import cast

import numpy as np
from music21 import chord, harmony, key, meter, note, stream

from beatflow_audio.theory import PITCH_NAMES, Key

MIN_SECONDS = 15.0
MIN_IN_SCALE_SHARE = 0.82
MIN_TONIC_SHARE = 0.12
_MINOR_PITCH_CLASSES = frozenset({0, 2, 3, 5, 7, 8, 9, 10, 11})
_MAJOR_KINDS = {"major", "dominant-seventh", "major-seventh", "major-sixth", "dominant-ninth", "major-ninth"}
_MINOR_KINDS = {"minor", "minor-seventh", "minor-sixth", "minor-ninth", "minor-major-seventh"}


class Unusable(ValueError):
    """The score cannot give an excerpt with trustworthy truth (the message says why)."""


@dataclass(frozen=True)
class Note:
    start: float  # quarter lengths from the excerpt start
    end: float
    pitch: int  # MIDI
    part: int  # 0 = the score's top part
    velocity: int


@dataclass(frozen=True)
class ChordSymbol:
    start: float
    end: float
    label: str  # mir_eval spelling, "X" where not major or minor
    pitches: tuple[int, ...]  # MIDI pitches to sound: the triad for major/minor, the written chord otherwise


@dataclass(frozen=True)
class Excerpt:
    notes: list[Note]
    symbols: list[ChordSymbol]  # empty unless the source has chord symbols
    parts: int
    length: float  # quarter lengths, a whole number of bars
    beat_length: float  # quarter lengths per beat
    beats_per_bar: int
    key: Key
    chords: list[tuple[float, float, str]]  # quarter lengths

    @property
    def bar_length(self) -> float:
        return self.beat_length * self.beats_per_bar

    @property
    def compound(self) -> bool:
        return is_compound(self.beat_length)

    @property
    def beats(self) -> np.ndarray:
        return np.arange(0.0, self.length - 1e-9, self.beat_length)

    @property
    def downbeats(self) -> np.ndarray:
        return np.arange(0.0, self.length - 1e-9, self.bar_length)


def is_compound(beat_length: float) -> bool:
    """A dotted beat (6/8, 9/8, 12/8, 6/4): three subdivisions per beat."""
    return round(beat_length * 4) % 3 == 0


def meter_of(score: stream.Score) -> tuple[float, int]:
    """(beat length in quarter lengths, beats per bar) of the score's first time signature."""
    signature = score.recurse().getElementsByClass(meter.TimeSignature).first()
    if signature is None:
        raise Unusable("no time signature")
    if signature.beatCount not in (2, 3, 4):
        raise Unusable(f"{signature.ratioString}: {signature.beatCount} beats per bar")
    return float(signature.beatDuration.quarterLength), int(signature.beatCount)


def extract(score: stream.Score, max_length: float, *, from_abc: bool) -> Excerpt:
    """The excerpt of at most about `max_length` quarter lengths (one bar more at most) and its truth."""
    beat_length, beats_per_bar = meter_of(score)
    start, end = _span(score, max_length, beat_length * beats_per_bar)
    if end - start < 4 * beat_length * beats_per_bar:
        raise Unusable("fewer than 4 usable bars")
    notes, symbols = _notes(score, start, end)
    if not notes:
        raise Unusable("no notes")
    parts = 1 + max(n.part for n in notes)
    symbols = symbols if len(symbols) >= 2 else []
    chords = _symbol_chords(symbols, end - start) if symbols else _sounding_chords(notes, beat_length, end - start)
    excerpt_key = _key(score, start, from_abc=from_abc)
    _check_key(excerpt_key, notes, chords)
    return Excerpt(notes, symbols, parts, end - start, beat_length, beats_per_bar, excerpt_key, chords)


def _span(score: stream.Score, max_length: float, bar: float) -> tuple[float, float]:
    """Start and end offsets of the excerpt in the score (see the module rules)."""
    measures = list(score.parts[0].getElementsByClass(stream.Measure))
    first = _first_full_bar(measures, bar)
    start = float(first.offset)
    signature, key_signature = _signatures_at(score, start)
    first_signature = cast(meter.TimeSignature, score.recurse().getElementsByClass(meter.TimeSignature).first())
    if signature != first_signature.ratioString:
        raise Unusable(f"the meter changes to {signature} before the first full bar")
    end = start
    for measure in measures[measures.index(first) :]:
        offset = float(measure.offset)
        length = float(measure.duration.quarterLength)
        new_signature = measure.timeSignature
        new_key_signature = measure.keySignature
        if offset > start and (
            (new_signature is not None and new_signature.ratioString != signature)
            or (new_key_signature is not None and new_key_signature.sharps != key_signature)
        ):
            break
        if abs(length - bar) < 1e-6 and not _on_grid(offset - start, bar):
            break
        if _on_grid(offset + length - start, bar):
            end = offset + length
        if end - start >= max_length:
            break
    return start, end


def excerpt_start(score: stream.Score) -> float:
    """Offset of the excerpt's first bar in the score (quarter lengths): its first full bar."""
    beat_length, beats_per_bar = meter_of(score)
    measures = list(score.parts[0].getElementsByClass(stream.Measure))
    return float(_first_full_bar(measures, beat_length * beats_per_bar).offset)


def _first_full_bar(measures: list[stream.Measure], bar: float) -> stream.Measure:
    full = [m for m in measures if abs(m.duration.quarterLength - bar) < 1e-6]
    if not full:
        raise Unusable("no full bar")
    return full[0]


def _signatures_at(score: stream.Score, offset: float) -> tuple[str, int]:
    flat = score.parts[0].flatten()
    signature = flat.getElementsByClass(meter.TimeSignature).getElementsByOffset(0, offset).last()
    key_signature = flat.getElementsByClass(key.KeySignature).getElementsByOffset(0, offset).last()
    if signature is None:
        raise Unusable("no time signature in the top part")
    return signature.ratioString, key_signature.sharps if key_signature is not None else 0


def _on_grid(length: float, bar: float) -> bool:
    return abs(length / bar - round(length / bar)) < 1e-6


def _notes(score: stream.Score, start: float, end: float) -> tuple[list[Note], list[ChordSymbol]]:
    notes, symbol_marks = [], []
    for index, part in enumerate(score.parts):
        for element in part.stripTies().flatten().notes:
            offset = float(element.offset)
            if isinstance(element, harmony.ChordSymbol):
                if start <= offset < end:
                    symbol_marks.append((offset - start, element))
                continue
            length = float(element.duration.quarterLength)
            if length <= 0 or offset < start or offset >= end or isinstance(element, note.Unpitched):
                continue
            pitches = element.pitches if isinstance(element, chord.Chord) else (cast(note.Note, element).pitch,)
            velocity = element.volume.velocity or 80
            for pitch in pitches:
                notes.append(Note(offset - start, min(offset + length, end) - start, int(pitch.midi), index, velocity))
    notes.sort(key=lambda n: (n.start, n.part, n.pitch))
    return notes, _symbols(sorted(symbol_marks, key=lambda mark: mark[0]), end - start)


def _symbols(marks: list[tuple[float, harmony.ChordSymbol]], length: float) -> list[ChordSymbol]:
    symbols = []
    for (offset, symbol), following in itertools.zip_longest(marks, marks[1:]):
        end = following[0] if following else length
        if end <= offset:
            continue
        if isinstance(symbol, harmony.NoChord) or not symbol.pitches:
            symbols.append(ChordSymbol(offset, end, "N", ()))
            continue
        root = symbol.root()
        kind = symbol.chordKind
        if kind in _MAJOR_KINDS or kind in _MINOR_KINDS:
            minor = kind in _MINOR_KINDS
            base = 48 + root.pitchClass
            pitches = (base, base + (3 if minor else 4), base + 7)
            label = f"{PITCH_NAMES[root.pitchClass]}:{'min' if minor else 'maj'}"
        else:
            pitches, label = tuple(int(p.midi) for p in symbol.pitches), "X"
        symbols.append(ChordSymbol(offset, end, label, pitches))
    return symbols


def _symbol_chords(symbols: list[ChordSymbol], length: float) -> list[tuple[float, float, str]]:
    chords = [(0.0, symbols[0].start, "X")] if symbols[0].start > 0 else []
    chords += [(s.start, s.end, s.label) for s in symbols]
    return _merged(chords) if chords[-1][1] >= length - 1e-6 else _merged([*chords, (chords[-1][1], length, "X")])


def triad_label(pitch_classes: set[int]) -> str:
    """'C:maj' / 'A:min' where the pitch classes are exactly a major or minor triad, else 'X'."""
    for root in pitch_classes:
        if pitch_classes == {root, (root + 4) % 12, (root + 7) % 12}:
            return f"{PITCH_NAMES[root]}:maj"
        if pitch_classes == {root, (root + 3) % 12, (root + 7) % 12}:
            return f"{PITCH_NAMES[root]}:min"
    return "X"


def _sounding_chords(notes: list[Note], beat_length: float, length: float) -> list[tuple[float, float, str]]:
    chords = []
    for beat in np.arange(0.0, length - 1e-9, beat_length):
        beat_end = beat + beat_length
        at_onset = {n.pitch % 12 for n in notes if n.start <= beat + 1e-9 < n.end}
        label = triad_label(at_onset)
        if label == "X":
            held: dict[int, float] = {}
            for n in notes:
                overlap = min(n.end, beat_end) - max(n.start, beat)
                if overlap > 0:
                    held[n.pitch % 12] = max(held.get(n.pitch % 12, 0.0), overlap)
            label = triad_label({pc for pc, time in held.items() if time > beat_length / 2 + 1e-9})
        chords.append((float(beat), float(beat_end), label))
    return _merged(chords)


def _merged(chords: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    merged: list[tuple[float, float, str]] = []
    for start, end, label in chords:
        if merged and merged[-1][2] == label and abs(merged[-1][1] - start) < 1e-9:
            merged[-1] = (merged[-1][0], end, label)
        else:
            merged.append((start, end, label))
    return merged


def _key(score: stream.Score, start: float, *, from_abc: bool) -> Key:
    flat = score.parts[0].flatten()
    signature = flat.getElementsByClass(key.KeySignature).getElementsByOffset(0, start).last()
    if signature is None:
        raise Unusable("no key signature")
    major_tonic = signature.asKey("major").tonic.pitchClass
    last_bass = _last_bass_pitch_class(score)
    if from_abc:
        if not isinstance(signature, key.Key) or signature.mode not in ("major", "minor"):
            raise Unusable(f"ABC key {signature} is not major or minor")
        if last_bass != signature.tonic.pitchClass:
            raise Unusable(f"the tune ends on {PITCH_NAMES[last_bass]}, not on the tonic of {signature}")
        return Key(signature.tonic.pitchClass, signature.mode == "minor")
    if last_bass == major_tonic:
        return Key(major_tonic, False)
    if last_bass == (major_tonic + 9) % 12:
        return Key(last_bass, True)
    raise Unusable(f"last bass note {PITCH_NAMES[last_bass]} is neither tonic of {signature}")


def _last_bass_pitch_class(score: stream.Score) -> int:
    """The lowest note sounding in the piece's last quarter note (a last onset alone can be a melody note
    displaced after the bass); the last chord symbol's root where there are symbols."""
    symbols = [s for s in score.recurse().getElementsByClass(harmony.ChordSymbol) if s.root() is not None]
    if symbols and not isinstance(symbols[-1], harmony.NoChord):
        return symbols[-1].root().pitchClass
    sounding = [n for n in score.flatten().notes if not isinstance(n, harmony.ChordSymbol) and n.quarterLength > 0]
    if not sounding:
        raise Unusable("no notes")
    end = max(float(n.offset + n.quarterLength) for n in sounding)
    final = [n for n in sounding if float(n.offset + n.quarterLength) > end - 1.0]
    return min(p.midi for n in final for p in n.pitches) % 12


def _check_key(truth: Key, notes: list[Note], chords: list[tuple[float, float, str]]) -> None:
    scale = _MINOR_PITCH_CLASSES if truth.minor else frozenset(truth.scale)
    total = sum(n.end - n.start for n in notes)
    in_scale = sum(n.end - n.start for n in notes if (n.pitch - truth.tonic) % 12 in scale)
    if in_scale < MIN_IN_SCALE_SHARE * total:
        raise Unusable(f"only {in_scale / total:.0%} of the notes are in {truth.name}")
    tonic = f"{PITCH_NAMES[truth.tonic]}:{'min' if truth.minor else 'maj'}"
    labelled = sum(end - start for start, end, label in chords if label not in ("X", "N"))
    on_tonic = sum(end - start for start, end, label in chords if label == tonic)
    if labelled > 0 and on_tonic < MIN_TONIC_SHARE * labelled:
        raise Unusable(f"the tonic triad {tonic} is {on_tonic / max(labelled, 1e-9):.0%} of the labelled chords")
