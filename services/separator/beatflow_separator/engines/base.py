"""What every separation engine offers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

# (fraction 0..1, stage, message); raises JobCancelled when the job was cancelled.
Progress = Callable[[float, str, str], None]


@dataclass(frozen=True)
class SeparationOptions:
    model_name: str = "htdemucs"
    segment_seconds: float = 0.0  # 0: the model's training segment
    overlap: float = 0.25
    shifts: int = 0


@dataclass(frozen=True)
class ModelInfo:
    """A model a request can name: what it writes and whether it can run here."""

    engine: str
    name: str
    stems: tuple[str, ...]
    weights_present: bool
    detail: str = ""


@dataclass(frozen=True)
class Separation:
    """Stems as float32 [frames, channels] at `sample_rate`."""

    stems: dict[str, np.ndarray]
    sample_rate: int
    model_name: str


class Separator(Protocol):
    """An engine that separates a whole decoded track at once."""

    name: str

    def available(self) -> tuple[bool, str]: ...

    def separate(self, samples: np.ndarray, rate: int, options: SeparationOptions, progress: Progress) -> Separation:
        """Blocking; runs in a worker thread."""
        ...


class MixReader(Protocol):
    """Random access to a mixture at the rate and channel count an engine asked for."""

    rate: int
    channels: int
    frames: int

    def read(self, start: int, stop: int) -> np.ndarray:
        """float32 [stop - start, channels]; `start` and `stop` within 0..frames."""
        ...

    def blocks(self, frames: int) -> Iterator[np.ndarray]:
        """The whole mixture in order, `frames` at a time."""
        ...


@dataclass(frozen=True)
class StemStream:
    """Stems produced in order: each block is {stem: float32 [n, channels]}, the blocks tile the mixture."""

    stems: tuple[str, ...]
    model_name: str
    blocks: Iterator[dict[str, np.ndarray]]


@runtime_checkable
class StreamingSeparator(Protocol):
    """An engine that separates in chunks, holding only the chunks in flight (any length in bounded memory)."""

    name: str
    default_model: str

    def available(self) -> tuple[bool, str]: ...

    def models(self) -> list[ModelInfo]: ...

    def revision(self, model_name: str) -> str:
        """Identifies the weights (what a cached result depends on); blocking, memoised."""
        ...

    def input_format(self, model_name: str) -> tuple[int, int]:
        """(sample rate, channels) the mixture must have."""
        ...

    def separate_stream(self, mix: MixReader, options: SeparationOptions, progress: Progress) -> StemStream:
        """Blocking, runs in a worker thread; `progress` is called once per chunk."""
        ...


@runtime_checkable
class BlockwiseSeparator(Protocol):
    """A weight-free engine that separates any stretch of a mixture on its own, at the mixture's
    own rate and channels, block by block (any length in bounded memory)."""

    name: str
    stems: tuple[str, ...]

    def available(self) -> tuple[bool, str]: ...

    def separate(self, samples: np.ndarray, rate: int, options: SeparationOptions, progress: Progress) -> Separation:
        """The whole decoded track at once (for callers that hold it anyway)."""
        ...

    def separate_blocks(
        self, read: Callable[[int, int], np.ndarray], frames: int, rate: int, progress: Progress
    ) -> Iterator[dict[str, np.ndarray]]:
        """The stems block by block, in order; `read(start, stop)` gives float32 [stop - start, channels]."""
        ...
