"""What every separation engine offers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# (fraction 0..1, stage, message); raises JobCancelled when the job was cancelled.
Progress = Callable[[float, str, str], None]


@dataclass(frozen=True)
class SeparationOptions:
    model_name: str = "htdemucs"
    segment_seconds: float = 0.0  # 0: the model's default
    overlap: float = 0.25
    shifts: int = 0


@dataclass(frozen=True)
class Separation:
    """Stems as float32 [frames, channels] at `sample_rate`."""

    stems: dict[str, np.ndarray]
    sample_rate: int
    model_name: str


class Separator(Protocol):
    name: str

    def available(self) -> tuple[bool, str]: ...

    def separate(self, samples: np.ndarray, rate: int, options: SeparationOptions, progress: Progress) -> Separation:
        """Blocking; runs in a worker thread."""
