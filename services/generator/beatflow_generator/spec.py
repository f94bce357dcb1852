"""What to generate, checked once at the boundary so engines can trust it."""

from __future__ import annotations

import dataclasses
import math
import random
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field

from beatflow_audio.theory import Key
from beatflow_platform import naming
from beatflow_platform.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Note:
    """A melody note: start and length in seconds, MIDI pitch."""

    start: float
    length: float
    pitch: int


CONTINUE, REPAINT, REDO_STEM, LOOP = "continue", "repaint", "redo_stem", "loop"
OPERATION_KINDS = (CONTINUE, REPAINT, REDO_STEM, LOOP)
MIN_OPERATION_BARS, MAX_OPERATION_BARS = 1, 64
LOOP_SOURCE = "a loop can only be looped again; continue, repaint or redo the piece it loops"


@dataclass(frozen=True)
class Operation:
    """A creative operation on an earlier generation (`GenerationSpec.source`); the new spec's own
    seed drives the new material."""

    kind: str  # CONTINUE | REPAINT | REDO_STEM | LOOP
    bars: int = 0  # continue: bars added at the end; loop: the loop's length in bars
    start_seconds: float = 0.0  # repaint: the range regenerated (snapped outwards to bar lines); loop: where it starts
    end_seconds: float = 0.0
    stem: str = ""  # redo_stem: the stem regenerated

    def as_payload(self) -> dict:
        return {
            "kind": self.kind,
            "bars": self.bars,
            "start_seconds": self.start_seconds,
            "end_seconds": self.end_seconds,
            "stem": self.stem,
        }

    @classmethod
    def from_payload(cls, payload: dict) -> Operation:
        return cls(**payload)


@dataclass(frozen=True)
class GenerationSpec:
    prompt: str
    bpm: int  # 0: the engine picks from the prompt
    mood: str
    duration_seconds: float
    key: Key | None  # None: the engine derives it from the mood
    engine: str
    seed: int  # never 0 once checked: `check` draws one when none is asked for
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 0.0
    guidance_scale: float = 0.0
    melody: tuple[Note, ...] = field(default=())
    operation: Operation | None = None  # None: a new piece
    source: GenerationSpec | None = None  # the generation `operation` works on, as recorded in its provenance

    def as_payload(self) -> dict:
        """JSON for the job row and a commit's provenance; `from_payload` reads it back whole (the
        source's spec nested). Hum-to-beat jobs add their melody notes once transcribed."""
        return {
            "prompt": self.prompt,
            "bpm": self.bpm,
            "mood": self.mood,
            "duration_seconds": self.duration_seconds,
            "key": self.key.name if self.key else "",
            "engine": self.engine,
            "seed": self.seed,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "guidance_scale": self.guidance_scale,
            "melody": [[note.start, note.length, note.pitch] for note in self.melody],
            "operation": self.operation.as_payload() if self.operation else None,
            "source": self.source.as_payload() if self.source else None,
        }

    @classmethod
    def from_payload(cls, payload: dict) -> GenerationSpec:
        """Reads `as_payload` JSON, also rows written before melody, operation and source were recorded."""
        operation, source = payload.get("operation"), payload.get("source")
        return cls(
            **{
                **payload,
                "key": Key.parse(payload["key"]) if payload["key"] else None,
                "melody": tuple(Note(*note) for note in payload.get("melody", ())),
                "operation": Operation.from_payload(operation) if operation else None,
                "source": cls.from_payload(source) if source else None,
            },
        )


MAX_RANDOM_SEED = 2**31 - 1  # fits every client's integer type, JSON numbers included


def random_seed() -> int:
    return secrets.randbelow(MAX_RANDOM_SEED) + 1


def check(
    *,
    prompt: str,
    bpm: int,
    mood: str,
    duration_seconds: float,
    key: Key | None,
    engine: str,
    seed: int | None,
    engines: dict[str, float],
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 0.0,
    guidance_scale: float = 0.0,
    field_prefix: str = "params",
    require_prompt: bool = True,
) -> GenerationSpec:
    """Checks what the contract's rules for GenerationParams cannot say (the service's interceptor has
    applied those already; the offline CLI applies them with `validation.check`): the engine, its
    longest duration and, unless an operation supplies it, a prompt. `engines` maps each available
    engine to its longest duration. A seed of 0 or None (none asked for) becomes a random one, which
    the spec then carries: the job records and reports the seed that was used, and a retried job
    renders the same music."""
    violations: list[FieldViolation] = []

    def bad(name: str, description: str) -> None:
        violations.append(FieldViolation(f"{field_prefix}.{name}", description))

    engine = engine or "procedural"
    if engine not in engines:
        bad("engine", f"must be one of {', '.join(sorted(engines))}")
    if require_prompt and not naming.matches(naming.NON_BLANK_TEXT, prompt):
        bad("prompt", "must not be empty")
    longest = engines.get(engine, 30.0)
    if duration_seconds > longest:
        bad(
            "duration_seconds",
            f"must be {naming.MIN_GENERATION_SECONDS:.0f} to {longest:.0f} seconds for engine {engine!r}",
        )
    if violations:
        raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations)
    return GenerationSpec(
        prompt=prompt.strip(),
        bpm=bpm,
        mood=mood.strip().lower(),
        duration_seconds=duration_seconds,
        key=key,
        engine=engine,
        seed=seed or random_seed(),
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        guidance_scale=guidance_scale,
    )


def check_operation(
    operation: Operation,
    *,
    source: GenerationSpec | None,
    source_seconds: float,
    stems: Collection[str],
    bpm: float = 0.0,
    max_seconds: float = math.inf,
    field_prefix: str = "operation",
) -> Operation:
    """Validates an operation on a source generation `source_seconds` long at `bpm` (0: not known
    yet) with these `stems` (the source commit's, or the engine's arrangement of `source`), for an
    engine that renders at most `max_seconds`. Every kind but "loop" needs a source; a loop without
    one loops a new piece. Raises InvalidArgument with every violation."""
    violations = []

    def bad(name: str, description: str) -> None:
        violations.append(FieldViolation(f"{field_prefix}.{name}", description))

    if operation.kind not in OPERATION_KINDS:
        bad("kind", f"must be one of {', '.join(OPERATION_KINDS)}")
    if source is None and operation.kind in (CONTINUE, REPAINT, REDO_STEM):
        bad("source", f"{operation.kind} needs the generation it works on")
    looped = source is not None and source.operation is not None and source.operation.kind == LOOP
    if looped and operation.kind != LOOP:
        bad("kind", LOOP_SOURCE)
    if operation.kind in (CONTINUE, LOOP) and not MIN_OPERATION_BARS <= operation.bars <= MAX_OPERATION_BARS:
        bad("bars", f"must be {MIN_OPERATION_BARS} to {MAX_OPERATION_BARS}")
    bar = 240.0 / bpm if bpm > 0 else 0.0  # the engines' bars are four beats
    if operation.kind == CONTINUE and bar and source_seconds + operation.bars * bar > max_seconds + 1e-6:
        fit = max(0, math.floor((max_seconds - source_seconds + 1e-6) / bar))
        bad(
            "bars",
            f"{operation.bars} bars after the source's {source_seconds:g} s run past the engine's"
            f" {max_seconds:g} s limit ({fit} bars fit)",
        )
    start, end = operation.start_seconds, operation.end_seconds
    if operation.kind == REPAINT and not (
        math.isfinite(start) and math.isfinite(end) and 0 <= start < end <= source_seconds
    ):
        bad(
            "start_seconds",
            f"must satisfy 0 <= start_seconds < end_seconds <= {source_seconds:g} (the source's length)",
        )
    if operation.kind == LOOP and not (math.isfinite(start) and 0 <= start < max(source_seconds, 1e-9)):
        bad("start_seconds", f"must be 0 to under {source_seconds:g} seconds (the piece's length)")
    elif (
        operation.kind == LOOP
        and source is not None
        and bar
        and (math.floor(start / bar + 1e-9) + operation.bars) * bar > source_seconds + 1e-6
    ):
        bad("bars", f"{operation.bars} bars from {start:g} s run past the source's end ({source_seconds:g} s)")
    if operation.kind == REDO_STEM and operation.stem not in stems:
        bad("stem", f"must be one of the source's stems: {', '.join(sorted(stems)) or 'none'}")
    if violations:
        raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations)
    return operation


def derive(source: GenerationSpec, operation: Operation, *, seed: int | None = None) -> GenerationSpec:
    """The spec of `operation` on `source`: the source's prompt, tempo, key and settings, a new seed
    (random when none is given) for the new material, the operation and the source itself."""
    return dataclasses.replace(source, seed=seed or random_seed(), melody=(), operation=operation, source=source)


def variations(spec: GenerationSpec, count: int) -> list[GenerationSpec]:
    """`count` specs that differ from `spec` only in their seeds: the first keeps `spec`'s seed, the
    others draw theirs from it, so the same request gives the same batch."""
    seeds = [spec.seed]
    draw = random.Random(spec.seed)  # seeded from an int, Python's generator is the same everywhere
    while len(seeds) < count:
        seed = draw.randint(1, MAX_RANDOM_SEED)
        if seed not in seeds:
            seeds.append(seed)
    return [dataclasses.replace(spec, seed=seed) for seed in seeds[:count]]
