"""What every engine offers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from beatflow_audio.theory import Key
from beatflow_generator.spec import GenerationSpec

# (fraction 0..1, stage, message); raises JobCancelled when the job was cancelled.
Progress = Callable[[float, str, str], None]
# A recorded melody for engines that follow audio: samples [frames, channels] and their rate.
MelodyAudio = tuple[np.ndarray, int]


@dataclass(frozen=True)
class Rendering:
    """Stems as float32 [frames, 2] at `sample_rate`; "mix" is their sum.

    Engines that compose notes also give each stem's MIDI (`midi`, by stem name), the renderer
    that played them, and how they read the prompt (`prompt_reading`, JSON-ready). A creative
    operation's figures (the repainted range snapped to bars, the join, the loop's seam) are in
    `report` (JSON-ready; empty for a new piece)."""

    stems: dict[str, np.ndarray]
    sample_rate: int
    bpm: int
    key: Key
    melody_notes: tuple[int, ...] = ()
    renderer: str = ""
    midi: dict = field(default_factory=dict)  # stem name -> pretty_midi.PrettyMIDI
    prompt_reading: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    mix_scale: float = 0.0  # the one gain the stems were levelled by (0: none); recorded so an edit can match it


@dataclass(frozen=True)
class SourceAudio:
    """An operation's source as committed: its stems decoded (float32 [frames, channels]) and the
    mix scale its engine recorded (0.0 when the commit has none)."""

    stems: dict[str, np.ndarray]
    sample_rate: int
    mix_scale: float = 0.0

    def mix(self) -> np.ndarray:
        """The stems summed as stereo float32 (mono stems on both sides, shorter ones padded)."""
        frames = max(len(samples) for samples in self.stems.values())
        total = np.zeros((frames, 2), dtype=np.float32)
        for samples in self.stems.values():
            total[: len(samples)] += samples if samples.shape[1] == 2 else np.repeat(samples, 2, axis=1)
        return total


class Engine(Protocol):
    name: str
    max_duration_seconds: float
    # How it follows a hummed melody: "notes" (spec.melody), "audio" (render's melody_audio) or "".
    melody_input: str
    # Variations of one batch request it renders in one pass (1: one at a time).
    max_batch: int
    # The creative operations (spec.OPERATION_KINDS) it performs; the service refuses the others.
    operations: frozenset[str]
    # What an operation's source is given as: "audio" (render's source_audio, the source commit's
    # stems) or "spec" (it re-renders the source from its spec alone).
    source_input: str

    def available(self) -> tuple[bool, str]:
        """Whether it can run here, and why not."""
        ...

    def render(
        self,
        spec: GenerationSpec,
        progress: Progress,
        melody_audio: MelodyAudio | None = None,
        source_audio: SourceAudio | None = None,
    ) -> Rendering:
        """Blocking; runs in a worker thread. `melody_audio` is (samples, rate) for "audio" engines.
        `source_audio` is the source commit's `SourceAudio` for engines whose `source_input` is
        "audio" (None when there is none, e.g. offline)."""
        ...


@runtime_checkable
class BatchEngine(Engine, Protocol):
    """An engine with max_batch > 1: only those are given several variations at once."""

    def render_batch(self, specs: list[GenerationSpec], progress: Progress) -> list[Rendering]:
        """Several variations in one pass."""
        ...
