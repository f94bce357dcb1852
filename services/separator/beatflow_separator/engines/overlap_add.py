"""Chunked overlap-add inference, computing what `demucs.apply.apply_model` computes while holding only
the chunks in flight, so memory does not grow with the track.

As in apply_model, a pass of one model cuts the track into chunks of `segment` frames every `stride`
frames, gives the model `segment` frames around each chunk (a short last chunk gets real audio
before it and silence after), weights each chunk's output with a triangle and divides by the
summed weights. A random shift is a pass over the track preceded by `shift` frames of silence.
Here the frames before the next chunk's start are final as soon as a chunk is added, so they are
handed on at once; the passes of a bag of models and of its shifts run in lockstep and are
combined as their blocks come out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

# model index, windows [batch, channels, segment] -> sources [batch, stems, channels, segment]
RunModel = Callable[[int, torch.Tensor], torch.Tensor]
# start, stop (track frames, within the track) -> [channels, stop - start]
ReadMix = Callable[[int, int], torch.Tensor]


def transition_weight(segment: int) -> torch.Tensor:
    """apply_model's triangle, peaking mid-chunk (transition power 1)."""
    weight = torch.cat([torch.arange(1, segment // 2 + 1), torch.arange(segment - segment // 2, 0, -1)]).float()
    return weight / weight.max()


@dataclass(frozen=True)
class ChunkPlan:
    """Where one pass's chunks lie, in frames of the track preceded by `shift` frames of silence."""

    length: int
    segment: int
    stride: int
    shift: int = 0

    @classmethod
    def of(cls, length: int, segment: int, overlap: float, shift: int = 0) -> ChunkPlan:
        return cls(length, segment, max(1, int((1 - overlap) * segment)), shift)

    @property
    def span(self) -> int:
        return self.length + self.shift

    @property
    def offsets(self) -> range:
        return range(0, self.span, self.stride)

    def chunk_length(self, offset: int) -> int:
        return min(self.segment, self.span - offset)

    def window_start(self, offset: int) -> int:
        """First track frame the model sees for the chunk at `offset` (may lie outside the track)."""
        return offset - (self.segment - self.chunk_length(offset)) // 2 - self.shift


@dataclass(frozen=True)
class Pass:
    """One model over the track at one shift; its output counts `coefficients[stem]` times in the result."""

    model: int
    plan: ChunkPlan
    coefficients: torch.Tensor


def read_window(read: ReadMix, plan: ChunkPlan, offset: int, channels: int) -> torch.Tensor:
    """The model's input for a chunk: the track where it exists, silence around it."""
    start = plan.window_start(offset)
    stop = start + plan.segment
    window = torch.zeros(channels, plan.segment)
    inside_start, inside_stop = max(start, 0), min(stop, plan.length)
    if inside_stop > inside_start:
        window[:, inside_start - start : inside_stop - start] = read(inside_start, inside_stop)
    return window


class _Accumulator:
    """A pass's weighted sum over the `segment` frames from its current chunk on."""

    def __init__(self, plan: ChunkPlan, stems: int, channels: int):
        self.plan = plan
        self.weight = transition_weight(plan.segment)
        self.sum = torch.zeros(stems, channels, plan.segment)
        self.norm = torch.zeros(plan.segment)
        self.start = 0  # frame of `sum[..., 0]`, counted with the leading silence

    def add(self, offset: int, output: torch.Tensor) -> torch.Tensor:
        """Adds the chunk at `offset` (chunks in order) and returns the frames now final, in track frames."""
        assert offset == self.start, "chunks must be added in order"
        size = self.plan.chunk_length(offset)
        delta = self.plan.segment - size
        trimmed = output[..., delta // 2 : delta // 2 + size]  # demucs' center_trim
        self.sum[..., :size] += self.weight[:size] * trimmed
        self.norm[:size] += self.weight[:size]
        last = offset + self.plan.stride >= self.plan.span
        final = size if last else self.plan.stride  # later chunks start at offset + stride
        block = self.sum[..., :final] / self.norm[:final]
        self.sum = torch.cat([self.sum[..., final:], torch.zeros(*self.sum.shape[:2], final)], dim=-1)
        self.norm = torch.cat([self.norm[final:], torch.zeros(final)])
        self.start += final
        silence = max(0, self.plan.shift - offset)  # the leading silence is not part of the output
        return block[..., silence:]


class _Combiner:
    """Sums the passes' final frames, `coefficients` each, as far as every pass has produced them."""

    def __init__(self, passes: Sequence[Pass]):
        self._coefficients = [p.coefficients[:, None, None] for p in passes]
        self._pending: list[list[torch.Tensor]] = [[] for _ in passes]

    def push(self, index: int, block: torch.Tensor) -> None:
        if block.shape[-1]:
            self._pending[index].append(block)

    def pop(self) -> torch.Tensor | None:
        ready = min(sum(b.shape[-1] for b in blocks) for blocks in self._pending)
        if ready == 0:
            return None
        total = None
        for index, blocks in enumerate(self._pending):
            joined = torch.cat(blocks, dim=-1)
            part = self._coefficients[index] * joined[..., :ready]
            total = part if total is None else total + part
            self._pending[index] = [joined[..., ready:]] if joined.shape[-1] > ready else []
        return total


def chunk_count(passes: Sequence[Pass]) -> int:
    return sum(len(p.plan.offsets) for p in passes)


def overlap_add(
    passes: Sequence[Pass],
    run_model: RunModel,
    read: ReadMix,
    *,
    channels: int,
    stems: int,
    batch_size: int = 1,
    on_chunk: Callable[[], None] = lambda: None,
) -> Iterator[torch.Tensor]:
    """Yields the separated track in order as blocks [stems, channels, frames].

    Each round runs up to `batch_size` consecutive chunks of every pass as one model call; all
    passes advance together, so what is held is a few chunks per pass whatever the track's length.
    `on_chunk` is called once per chunk added (it may raise to stop between chunks).
    """
    accumulators = [_Accumulator(p.plan, stems, channels) for p in passes]
    combiner = _Combiner(passes)
    rounds = max(-(-len(p.plan.offsets) // batch_size) for p in passes)
    for round_index in range(rounds):
        for index, (spec, accumulator) in enumerate(zip(passes, accumulators, strict=True)):
            offsets = spec.plan.offsets[round_index * batch_size : (round_index + 1) * batch_size]
            if not offsets:
                continue
            windows = torch.stack([read_window(read, spec.plan, offset, channels) for offset in offsets])
            outputs = run_model(spec.model, windows)
            for offset, output in zip(offsets, outputs, strict=True):
                combiner.push(index, accumulator.add(offset, output))
                on_chunk()
        while (block := combiner.pop()) is not None:
            yield block
