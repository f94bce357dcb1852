"""A new piece from its spec: the notes (`compose`) and their levelled stems (`play`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from beatflow_generator.engines.base import Progress
from beatflow_generator.engines.procedural import mixing
from beatflow_generator.engines.procedural.arrangement import Arrangement, arrange
from beatflow_generator.engines.procedural.prompt import read_prompt
from beatflow_generator.engines.procedural.render import render_stems
from beatflow_generator.spec import GenerationSpec

SEED_SPACE = 2**64  # numpy seeds are unsigned; requests carry any int64


@dataclass(frozen=True)
class Performance:
    """A piece as notes and as levelled stems ("mix" not included), with the scale they were levelled by."""

    piece: Arrangement
    stems: dict[str, np.ndarray]
    scale: np.float32
    renderer: str
    report: dict = field(default_factory=dict)


def seed_of(spec: GenerationSpec) -> int:
    return spec.seed % SEED_SPACE


def compose(spec: GenerationSpec, seconds: float | None = None) -> Arrangement:
    """The notes of the new piece `spec` asks for (`seconds` long instead of the spec's duration when given)."""
    seed = seed_of(spec)
    reading = read_prompt(
        spec.prompt,
        spec.mood,
        bpm=spec.bpm,
        key=spec.key,
        rng=np.random.default_rng(seed),
        melody_given=bool(spec.melody),
    )
    return arrange(reading, spec.duration_seconds if seconds is None else seconds, seed, spec.melody)


def play(spec: GenerationSpec, progress: Progress) -> Performance:
    progress(0.05, "reading", spec.prompt[:80])
    piece = compose(spec)
    progress(0.15, "arranging", f"{piece.reading.style} at {piece.bpm} bpm in {piece.key.name}")
    progress(0.25, "rendering", ", ".join(piece.parts))
    rendered = render_stems(piece.parts, piece.bpm, spec.duration_seconds, mixing.SAMPLE_RATE, seed_of(spec))
    progress(0.9, "mixing", rendered.renderer)
    stems, scale = mixing.level(rendered.stems)
    return Performance(piece, stems, scale, rendered.renderer)
