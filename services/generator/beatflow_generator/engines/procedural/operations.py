"""Creative operations on an earlier generation: continue, repaint, redo one stem, loop.

What an operation keeps is the source's own samples: the source commit's decoded stems when the
service gives them with the mix scale the source was levelled by (only the new bars are rendered),
else the source re-rendered from its spec (bit-identical, the whole piece). New material is composed
in the source's reading (style, tempo, key, instruments) with the new spec's seed, rendered in a
window that starts bars before it (so notes ringing into it are heard), levelled with the source's
scale and spliced in:
- continue: the source up to its end fade, which becomes a crossfade into the extension;
- repaint: new bars between the bar lines around [start, end], entered and left by short
  equal-power fades inside the repainted bars;
- redo_stem: one stem recomposed over the same chords and rendered whole; the mix recomputed;
- loop: bars of the piece rendered three times in a row; the middle pass is the loop, so its start
  holds the tails of its own end.
A loop is an end product: only looping it again is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import zlib

import numpy as np
import pretty_midi

from beatflow_generator.engines.base import Progress, SourceAudio
from beatflow_generator.engines.procedural import mixing, seams
from beatflow_generator.engines.procedural.arrangement import Arrangement, arrange, progression_for
from beatflow_generator.engines.procedural.performance import Performance, compose, play, seed_of
from beatflow_generator.engines.procedural.render import render_stems, renderer_available
from beatflow_generator.engines.procedural.styles import BY_NAME
from beatflow_generator.engines.procedural.variation import varied
from beatflow_generator.spec import CONTINUE, LOOP, LOOP_SOURCE, REDO_STEM, REPAINT, GenerationSpec, Note, Operation
from beatflow_platform.errors import InvalidArgument

RATE = mixing.SAMPLE_RATE
REPAINT_FADE_SECONDS = 0.01
LOOP_PASSES = 3
CONTEXT_SECONDS = 2.0  # at least this much before new material is rendered with it: releases and cymbals ring


def piece(spec: GenerationSpec) -> Arrangement:
    """The notes `spec` renders (cheap: nothing is rendered)."""
    if spec.operation is None:
        return compose(spec)
    if spec.operation.kind == LOOP:
        return _loop_cycle(spec)[0]
    return _EDITS[spec.operation.kind](piece(_source_of(spec)), spec)[0]


def perform(spec: GenerationSpec, progress: Progress, source_audio: SourceAudio | None = None) -> Performance:
    """The notes and levelled stems of `spec`, a new piece or an operation on `spec.source` (whose
    committed audio `source_audio` is, when given)."""
    if spec.operation is None:
        return play(spec, progress)
    kind = spec.operation.kind
    if kind == LOOP:
        return _loop(spec, progress)
    source_spec = _source_of(spec)
    if source_spec.operation is not None and source_spec.operation.kind == LOOP:
        raise InvalidArgument.for_field("operation.kind", LOOP_SOURCE)
    source = _source(source_spec, source_audio, progress)
    progress(0.5, kind, _describe(spec))
    edited, report = _EDITS[kind](source.piece, spec)
    stems = _SPLICES[kind](source, edited, spec, report)
    progress(0.95, "mixing", source.renderer)
    return Performance(edited, stems, source.scale, source.renderer, {"operation": kind, **report})


def _source(spec: GenerationSpec, audio: SourceAudio | None, progress: Progress) -> Performance:
    """The source as committed when `audio` holds a stem for each of its parts (the commit may hold
    others, kept from the branch it landed on), full length, at our rate, with its mix scale; else
    the source re-rendered from `spec`."""
    notes = piece(spec)
    frames = round(notes.seconds * RATE)
    if (
        audio is not None
        and audio.mix_scale > 0
        and audio.sample_rate == RATE
        and all(audio.stems.get(name, np.empty(0)).shape == (frames, 2) for name in notes.parts)
    ):
        stems = {name: audio.stems[name] for name in notes.parts}
        return Performance(notes, stems, np.float32(audio.mix_scale), renderer_available()[0])
    progress(0.05, "rendering source", f"the {spec.engine} piece this operation works on")
    return perform(spec, lambda fraction, stage, message: progress(0.05 + 0.45 * fraction, stage, message))


def _describe(spec: GenerationSpec) -> str:
    operation = _operation_of(spec)
    return {
        CONTINUE: f"{operation.bars} bars",
        REPAINT: f"{operation.start_seconds:g} s to {operation.end_seconds:g} s",
        REDO_STEM: operation.stem,
    }[operation.kind]


# The notes of each edit: (source piece, spec) -> (edited piece, report).


def _continued(source: Arrangement, spec: GenerationSpec) -> tuple[Arrangement, dict]:
    """The source and `bars` more in its style, over its chord cycle continued."""
    bar = _bar_seconds(source)
    seconds = source.seconds + _operation_of(spec).bars * bar
    cycle = _cycle(source.chords)
    chords = source.chords + tuple(
        cycle[index % len(cycle)] for index in range(len(source.chords), math.ceil(seconds / bar - 1e-9))
    )
    fresh = arrange(source.reading, seconds, seed_of(spec), chords=chords)
    edited = _spliced(source, fresh, source.seconds, seconds, seconds=seconds, chords=chords)
    report = {
        "bars_added": _operation_of(spec).bars,
        "join_seconds": round(source.seconds, 6),
        "duration_seconds": round(seconds, 6),
        "crossfade_seconds": mixing.FADE_SECONDS,
        "chords": "the source's progression, continued",
    }
    return edited, report


def _repainted(source: Arrangement, spec: GenerationSpec) -> tuple[Arrangement, dict]:
    """New notes, over a new progression, in the bars that cover [start, end]."""
    bar = _bar_seconds(source)
    operation = _operation_of(spec)
    first = math.floor(operation.start_seconds / bar + 1e-9)
    last = min(math.ceil(operation.end_seconds / bar - 1e-9), len(source.chords))  # exclusive
    start, end = first * bar, min(last * bar, source.seconds)
    style = BY_NAME[source.reading.style]
    progression = progression_for(style, source.key, _rng(spec, "harmony"))
    chords = tuple(
        progression[(index - first) % len(progression)] if first <= index < last else degree
        for index, degree in enumerate(source.chords)
    )
    fresh = arrange(
        source.reading, source.seconds, seed_of(spec), chords=chords, style=varied(style, _rng(spec, "style"))
    )
    edited = _spliced(source, fresh, start, end, seconds=source.seconds, chords=chords)
    report = {
        "requested_seconds": [operation.start_seconds, operation.end_seconds],
        "start_seconds": round(start, 6),
        "end_seconds": round(end, 6),
        "first_bar": first,
        "bar_count": last - first,
        "crossfade_seconds": REPAINT_FADE_SECONDS,
        "chords": "a new progression in the repainted bars",
    }
    return edited, report


def _redone(source: Arrangement, spec: GenerationSpec) -> tuple[Arrangement, dict]:
    """One stem recomposed from a varied style over the same chords; the others as they were."""
    stem = _operation_of(spec).stem
    if stem not in source.parts:
        raise InvalidArgument.for_field(
            "operation.stem", f"must be one of the source's stems: {', '.join(source.parts)}"
        )
    style = varied(BY_NAME[source.reading.style], _rng(spec, "style"))
    fresh = arrange(source.reading, source.seconds, seed_of(spec), chords=source.chords, style=style)
    part = fresh.parts[stem]
    parts = {**source.parts, stem: part}
    edited = dataclasses.replace(source, parts=parts, melody=_melody(parts) if stem == "melody" else source.melody)
    return edited, {
        "stem": stem,
        "chords": "kept",
        "notes": len(part.notes),
        "source_notes": len(source.parts[stem].notes),
    }


_EDITS = {CONTINUE: _continued, REPAINT: _repainted, REDO_STEM: _redone}


# The audio of each edit: (source performance, edited piece, spec, report) -> levelled stems.


def _continue_audio(source: Performance, edited: Arrangement, spec: GenerationSpec, report: dict) -> dict:
    join = round(source.piece.seconds * RATE)
    frames = round(edited.seconds * RATE)
    fresh = _render_from(edited, source.piece.seconds - mixing.FADE_SECONDS, edited.seconds, source.scale, spec)
    fade_start = join - round(mixing.FADE_SECONDS * RATE)
    into = 1 - mixing.end_fade(join, fade_start)  # the source fades out as the extension fades in
    envelope = mixing.end_fade(frames, join)
    stems = {}
    for name in edited.parts:
        old = source.stems.get(name, np.zeros((join, 2), dtype=np.float32))
        out = np.empty((frames, 2), dtype=np.float32)
        out[:fade_start] = old[:fade_start]
        out[fade_start:join] = old[fade_start:] + _between(fresh.get(name), fade_start, join) * into
        out[join:] = _between(fresh.get(name), join, frames) * envelope
        stems[name] = out
    return stems


def _repaint_audio(source: Performance, edited: Arrangement, spec: GenerationSpec, report: dict) -> dict:
    bar = _bar_seconds(edited)
    start, end = report["first_bar"] * bar, min((report["first_bar"] + report["bar_count"]) * bar, edited.seconds)
    first, last = round(start * RATE), round(end * RATE)
    frames = len(next(iter(source.stems.values())))
    fresh = _render_from(edited, start, end, source.scale, spec)
    fade = round(REPAINT_FADE_SECONDS * RATE)
    angle = (np.arange(fade, dtype=np.float64) + 0.5) / fade * (np.pi / 2)
    rise, fall = np.sin(angle).astype(np.float32)[:, None], np.cos(angle).astype(np.float32)[:, None]
    stems = {}
    for name, old in source.stems.items():
        new = _between(fresh.get(name), first, last)
        out = old.copy()
        out[first:last] = new
        out[first : first + fade] = old[first : first + fade] * fall + new[:fade] * rise
        if last < frames:
            out[last - fade : last] = new[-fade:] * fall + old[last - fade : last] * rise
        else:  # repainted to the end: the piece's own end fade
            out[first:] *= mixing.end_fade(frames, first)
        stems[name] = out
    return stems


def _redo_audio(source: Performance, edited: Arrangement, spec: GenerationSpec, report: dict) -> dict:
    stem = _operation_of(spec).stem
    rendered = render_stems({stem: edited.parts[stem]}, edited.bpm, edited.seconds, RATE, seed_of(spec)).stems[stem]
    new = mixing.level({stem: rendered}, scale=source.scale)[0][stem]
    return {**source.stems, stem: new}


_SPLICES = {CONTINUE: _continue_audio, REPAINT: _repaint_audio, REDO_STEM: _redo_audio}


# Loops.


def _loop_cycle(spec: GenerationSpec) -> tuple[Arrangement, dict[str, pretty_midi.Instrument], float]:
    """(the loop's piece, its notes unclipped for rendering, where it starts in the looped piece)."""
    operation = _operation_of(spec)
    if spec.source is None:
        bpm = compose(spec, seconds=1.0).bpm  # the prompt's reading alone fixes the tempo
        whole = compose(spec, seconds=operation.bars * 240.0 / bpm)
    else:
        whole = piece(spec.source)
    bar = _bar_seconds(whole)
    first = math.floor(operation.start_seconds / bar + 1e-9)
    start, length = first * bar, operation.bars * bar
    if start + length > whole.seconds + 1e-6:
        raise InvalidArgument.for_field(
            "operation.bars",
            f"{operation.bars} bars from bar {first + 1} run past the piece's end ({whole.seconds:g} s)",
        )
    ringing = _notes_in(whole.parts, start, start + length, shift=-start)
    clipped = {name: _instrument(part, [_clip(n, length) for n in part.notes]) for name, part in ringing.items()}
    looped = dataclasses.replace(
        whole,
        seconds=length,
        chords=whole.chords[first : first + operation.bars],
        parts=clipped,
        melody=_melody(clipped),
    )
    return looped, ringing, start


def _loop(spec: GenerationSpec, progress: Progress) -> Performance:
    """The loop's bars rendered three times in a row; the middle pass is the loop: its start holds
    the tails of its own end, and it begins with a short crossfade from the third pass's start (the
    true continuation of its end) so the wrap itself is continuous."""
    progress(0.1, "arranging", f"a {_operation_of(spec).bars}-bar loop")
    looped, ringing, start = _loop_cycle(spec)
    length = looped.seconds
    passes = {
        name: _instrument(part, [_shifted(n, k * length) for k in range(LOOP_PASSES) for n in part.notes])
        for name, part in ringing.items()
    }
    progress(0.3, "rendering", f"the loop {LOOP_PASSES} times in a row")
    rendered = render_stems(passes, looped.bpm, LOOP_PASSES * length, RATE, seed_of(spec))
    frames = round(length * RATE)
    fade = round(mixing.FADE_SECONDS * RATE)
    rise = ((np.arange(fade) + 0.5) / fade).astype(np.float32)[:, None]
    middle = {}
    for name, audio in rendered.stems.items():
        cycle = _fit(audio[frames:], frames + fade)
        cycle[:fade] = cycle[frames : frames + fade] * (1 - rise) + cycle[:fade] * rise
        middle[name] = cycle[:frames]
    stems, scale = mixing.level(middle, fade=False)
    report = {
        "operation": LOOP,
        "bars": _operation_of(spec).bars,
        "start_seconds": round(start, 6),
        "duration_seconds": round(length, 6),
        "seam_discontinuity": seams.seam_figures(mixing.with_mix(stems)["mix"], RATE, _bar_seconds(looped)),
    }
    return Performance(looped, stems, scale, rendered.renderer, report)


# Helpers.


def _operation_of(spec: GenerationSpec) -> Operation:
    """The operation of `spec`, which the functions here are only given with one."""
    assert spec.operation is not None
    return spec.operation


def _source_of(spec: GenerationSpec) -> GenerationSpec:
    """The source of an edit's `spec` (continue, repaint and redo_stem are always derived from one)."""
    assert spec.source is not None
    return spec.source


def _bar_seconds(piece: Arrangement) -> float:
    return 240.0 / piece.bpm


def _rng(spec: GenerationSpec, purpose: str) -> np.random.Generator:
    return np.random.default_rng([seed_of(spec), zlib.crc32(purpose.encode())])


def _cycle(chords: tuple[int, ...]) -> tuple[int, ...]:
    """The shortest prefix that repeats to give `chords` (the progression a piece cycles through)."""
    for period in range(1, len(chords) + 1):
        if all(chords[index] == chords[index % period] for index in range(len(chords))):
            return chords[:period]
    return chords


def _spliced(
    source: Arrangement, fresh: Arrangement, start: float, end: float, *, seconds: float, chords: tuple[int, ...]
) -> Arrangement:
    """The source's notes, but those starting in [start, end) come from `fresh` (ending by `end`)."""
    parts = {}
    for name in {**source.parts, **fresh.parts}:
        kept = [n for n in _notes(source.parts.get(name)) if not start <= n.start < end]
        new = [_clip(n, end) for n in _notes(fresh.parts.get(name)) if start <= n.start < end]
        template = source.parts[name] if name in source.parts else fresh.parts[name]
        parts[name] = _instrument(template, sorted(kept + new, key=lambda n: (n.start, n.pitch)))
    return dataclasses.replace(source, seconds=seconds, chords=chords, parts=parts, melody=_melody(parts))


def _render_from(piece: Arrangement, at: float, end: float, scale: np.float32, spec: GenerationSpec) -> dict:
    """The piece's stems from a bar line before `at` (early enough that every note sounding at `at`
    is heard from its start, and CONTEXT_SECONDS more) to `end`, levelled with `scale`, placed at
    their time in the piece: {stem: (first frame, samples)}."""
    bar = _bar_seconds(piece)
    starts = [n.start for part in piece.parts.values() for n in part.notes if n.start < at < n.end]
    earliest = min([at, *starts])
    window = max(0.0, (math.floor(earliest / bar) - math.ceil(CONTEXT_SECONDS / bar)) * bar)
    parts = _notes_in(piece.parts, window, end, shift=-window)
    rendered = render_stems(parts, piece.bpm, end - window, RATE, seed_of(spec)).stems
    first = round(window * RATE)
    return {name: (first, audio) for name, audio in mixing.level(rendered, fade=False, scale=scale)[0].items()}


def _between(window: tuple[int, np.ndarray] | None, start: int, stop: int) -> np.ndarray:
    """Frames `start`..`stop` of the piece from a rendered window (silence where it has none)."""
    out = np.zeros((stop - start, 2), dtype=np.float32)
    if window is not None:
        first, audio = window
        covered = audio[max(start - first, 0) : max(stop - first, 0)]
        offset = max(first - start, 0)
        out[offset : offset + len(covered)] = covered[: len(out) - offset]
    return out


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    return np.pad(audio[:frames], ((0, max(0, frames - len(audio))), (0, 0)))


def _notes(part: pretty_midi.Instrument | None) -> list[pretty_midi.Note]:
    return list(part.notes) if part is not None else []


def _notes_in(parts: dict[str, pretty_midi.Instrument], start: float, end: float, *, shift: float) -> dict:
    """Copies of `parts` holding the notes that start in [start, end), moved by `shift` seconds."""
    return {
        name: _instrument(part, [_shifted(n, shift) for n in part.notes if start <= n.start < end])
        for name, part in parts.items()
    }


def _instrument(template: pretty_midi.Instrument, notes: list[pretty_midi.Note]) -> pretty_midi.Instrument:
    instrument = pretty_midi.Instrument(template.program, is_drum=template.is_drum, name=template.name)
    instrument.notes = notes
    return instrument


def _shifted(note: pretty_midi.Note, by: float) -> pretty_midi.Note:
    return pretty_midi.Note(note.velocity, note.pitch, note.start + by, note.end + by)


def _clip(note: pretty_midi.Note, end: float) -> pretty_midi.Note:
    return pretty_midi.Note(note.velocity, note.pitch, note.start, min(note.end, end))


def _melody(parts: dict[str, pretty_midi.Instrument]) -> tuple[Note, ...]:
    part = parts.get("melody")
    return tuple(Note(n.start, n.end - n.start, n.pitch) for n in _notes(part))
