"""What every engine offers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from beatflow_audio.theory import Key
from beatflow_generator.spec import GenerationSpec

# (fraction 0..1, stage, message); raises JobCancelled when the job was cancelled.
Progress = Callable[[float, str, str], None]


@dataclass(frozen=True)
class Rendering:
    """Stems as float32 [frames, 2] at `sample_rate`; "mix" is their sum."""

    stems: dict[str, np.ndarray]
    sample_rate: int
    bpm: int
    key: Key
    melody_notes: tuple[int, ...] = ()


class Engine(Protocol):
    name: str
    max_duration_seconds: float
    # How it follows a hummed melody: "notes" (spec.melody), "audio" (render's melody_audio) or "".
    melody_input: str
    # Variations of one batch request it renders in one pass (1: one at a time).
    max_batch: int

    def available(self) -> tuple[bool, str]:
        """Whether it can run here, and why not."""

    def render(self, spec: GenerationSpec, progress: Progress, melody_audio=None) -> Rendering:
        """Blocking; runs in a worker thread. `melody_audio` is (samples, rate) for "audio" engines."""

    def render_batch(self, specs: list[GenerationSpec], progress: Progress) -> list[Rendering]:
        """Several variations in one pass; only engines with max_batch > 1 are asked."""
