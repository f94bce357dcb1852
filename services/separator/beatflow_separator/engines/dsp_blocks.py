"""Long input in bounded memory for the DSP separator: the track is cut into blocks, each separated
from a window that reaches CONTEXT_SECONDS beyond it on both sides (the passes' median filters look
up to 1.5 s away, and each pass works on what the previous one left), and neighbouring blocks are
crossfaded over FADE_SECONDS around their join. Each window's stems sum back to the window and the
fades are complementary, so the stems still sum back to the mixture; away from the window's edges
the passes see what they would see on the whole track, so the joins match whole-track output
closely (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from beatflow_separator.engines.base import Progress

BLOCK_SECONDS = 30.0
CONTEXT_SECONDS = 3.0  # the passes reach about 2 s: with 1 s a join is 30 dB off whole-track output, with 2 s 100 dB
FADE_SECONDS = 1.0

# start, stop (frames within the track) -> float32 [stop - start, channels]
ReadMix = Callable[[int, int], np.ndarray]
# float32 [frames, channels] -> {stem: float32 [frames, channels]} summing back to the input
SeparateWindow = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class BlockPlan:
    """Block k covers frames [k * block, (k + 1) * block) of the track; the last one runs to its end and
    holds the remainder too (so no block is shorter than half a block, and a short track is one block)."""

    frames: int
    block: int
    context: int
    fade: int

    @classmethod
    def of(cls, frames: int, rate: int, alignment: int) -> BlockPlan:
        """Block and context lengths rounded to multiples of `alignment` frames."""

        def aligned(seconds: float) -> int:
            return max(1, round(seconds * rate / alignment)) * alignment

        return cls(frames, aligned(BLOCK_SECONDS), aligned(CONTEXT_SECONDS), int(FADE_SECONDS * rate) // 2 * 2)

    @property
    def count(self) -> int:
        return max(1, round(self.frames / self.block))

    def core(self, index: int) -> tuple[int, int]:
        return index * self.block, self.frames if index == self.count - 1 else (index + 1) * self.block

    def window(self, index: int) -> tuple[int, int]:
        start, stop = self.core(index)
        return max(0, start - self.context), min(self.frames, stop + self.context)


def stream(
    read: ReadMix, plan: BlockPlan, separate_window: SeparateWindow, progress: Progress
) -> Iterator[dict[str, np.ndarray]]:
    """The stems of the whole track, one block at a time, in order."""
    half = plan.fade // 2
    rise = ((np.arange(plan.fade, dtype=np.float32) + 0.5) / plan.fade)[:, None]
    held: dict[str, np.ndarray] = {}  # the previous block's faded-out stems over the coming join
    for index in range(plan.count):
        progress(index / plan.count, "masks", f"block {index + 1}/{plan.count}")
        window_start, window_stop = plan.window(index)
        stems = separate_window(read(window_start, window_stop))
        start, stop = plan.core(index)
        first = start - window_start + (half if index > 0 else 0)  # where this block's own part begins
        last = stop - window_start - (half if index < plan.count - 1 else 0)
        block = {}
        for name, stem in stems.items():
            own = stem[first:last]
            if held:
                own = np.concatenate([held[name] + rise * stem[first - plan.fade : first], own])
            block[name] = own
        if index < plan.count - 1:
            held = {name: (1 - rise) * stem[last : last + plan.fade] for name, stem in stems.items()}
        yield block
