"""Demucs (HTDemucs models) from a local weights directory, loaded once per process per model name,
run chunk by chunk (engines/overlap_add.py) so a track of any length separates in bounded memory.

The `.th` files are pickles (torch.load with weights_only=False, as demucs loads them): only
point the weights directory at files you trust. Nothing is ever downloaded.
"""

from __future__ import annotations

import math
import random
import threading
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from beatflow_platform.errors import FailedPrecondition, InvalidArgument
from beatflow_separator.engines import demucs_weights
from beatflow_separator.engines.base import MixReader, ModelInfo, Progress, SeparationOptions, StemStream
from beatflow_separator.engines.overlap_add import ChunkPlan, Pass, chunk_count, overlap_add

if TYPE_CHECKING:
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

DEFAULT_MODEL = "htdemucs"
# Chunks per model call on a GPU when the batch size is not set (not yet measured on one).
GPU_BATCH_SIZE = 8
# apply_model's random shifts move the track by up to half a second.
MAX_SHIFT_SECONDS = 0.5
_STATS_BLOCK_FRAMES = 1 << 18


class DemucsSeparator:
    name = "demucs"
    default_model = DEFAULT_MODEL

    def __init__(self, weights_dir: Path | None, *, device: str = "cpu", batch_size: int = 0):
        import torch

        self._dir = weights_dir
        # torch's intra-op thread count is per thread: one set in the thread that builds the engine does
        # not reach worker threads that existed before. Every separation runs with this one count, so the
        # same audio gives the same bits (and the cache the same blobs) whichever thread runs it.
        self._threads = torch.get_num_threads()
        self._device = device
        self.batch_size = batch_size or (1 if device == "cpu" else GPU_BATCH_SIZE)
        self._facts = demucs_weights.FileFacts()
        self._models: dict[str, BagOfModels] = {}
        self._lock = threading.Lock()

    def _bags(self) -> dict[str, demucs_weights.Bag]:
        if self._dir is None or not self._dir.is_dir():
            return {}
        return demucs_weights.scan(self._dir)

    def available(self) -> tuple[bool, str]:
        if self._dir is None:
            return False, "no weights configured (set BEATFLOW_SEPARATOR_DEMUCS_MODEL_DIR)"
        if not self._dir.is_dir():
            return False, f"weights directory {self._dir} does not exist"
        names = sorted(name for name, bag in self._bags().items() if bag.complete)
        if not names:
            return False, f"no complete model in {self._dir}"
        return True, f"{', '.join(names)} from {self._dir} on {self._device}"

    def models(self) -> list[ModelInfo]:
        """Every bag of the weights directory; stems are read from its first model file."""
        infos = []
        for name, bag in sorted(self._bags().items()):
            stems = self._facts.sources(bag.files[0]) if bag.files else ()
            detail = "" if bag.complete else f"model files missing for {', '.join(bag.missing)}"
            infos.append(ModelInfo(self.name, name, stems, bag.complete, detail))
        return infos

    def _bag(self, name: str) -> demucs_weights.Bag:
        bags = self._bags()
        if name not in bags:
            listed = ", ".join(sorted(bags)) or "none"
            raise InvalidArgument.for_field("demucs.model_name", f"unknown model {name!r}; available: {listed}")
        bag = bags[name]
        if not bag.complete:
            raise FailedPrecondition(
                f"model {name!r} is listed but its weights are not installed here ({', '.join(bag.missing)} missing)",
                reason="WEIGHTS_MISSING",
            )
        return bag

    def revision(self, model_name: str) -> str:
        return self._facts.revision(self._bag(model_name))

    def model(self, name: str) -> BagOfModels:
        """The named bag of models, loaded on first use and kept (blocking)."""
        from demucs.apply import BagOfModels
        from demucs.htdemucs import HTDemucs
        from demucs.pretrained import get_model

        self._bag(name)
        with self._lock:
            if name not in self._models:
                bag = get_model(name, repo=self._dir)
                assert isinstance(bag, BagOfModels)  # `_bag` accepts only the names of bag (.yaml) files
                if not all(isinstance(member, HTDemucs) for member in bag.models):
                    raise FailedPrecondition(f"model {name!r} is not an HTDemucs model", reason="UNSUPPORTED_MODEL")
                self._models[name] = bag.to(self._device).eval()
            return self._models[name]

    def input_format(self, model_name: str) -> tuple[int, int]:
        model = self.model(model_name)
        return model.samplerate, model.audio_channels

    def passes(self, model: BagOfModels, length: int, options: SeparationOptions) -> list[Pass]:
        """One pass per member of the bag and random shift (0 to 0.5 s of leading silence, as apply_model draws
        them); each pass counts by the bag's weight of its member for each stem, shifts averaged."""
        import torch

        weights = torch.tensor(model.weights, dtype=torch.float32)
        repeats = max(1, options.shifts)
        coefficients = weights / weights.sum(dim=0) / repeats
        max_shift = int(MAX_SHIFT_SECONDS * model.samplerate)
        passes = []
        # `model()` admits only bags of HTDemucs models.
        for index, member in enumerate(cast("list[HTDemucs]", list(model.models))):
            if options.segment_seconds > float(member.segment) + 1e-9:
                raise InvalidArgument.for_field(
                    "demucs.segment_seconds", f"must be at most the model's training segment, {float(member.segment)} s"
                )
            segment = int(model.samplerate * (options.segment_seconds or float(member.segment)))
            for _ in range(repeats):
                shift = max_shift - random.randint(0, max_shift) if options.shifts else 0
                plan = ChunkPlan.of(length, segment, options.overlap, shift)
                passes.append(Pass(index, plan, coefficients[index]))
        return passes

    def separate_stream(self, mix: MixReader, options: SeparationOptions, progress: Progress) -> StemStream:
        import torch

        model = self.model(options.model_name)
        mean, scale = _reference_stats(mix)
        passes = self.passes(model, mix.frames, options)
        total = chunk_count(passes)
        done = 0

        def on_chunk() -> None:
            nonlocal done
            done += 1
            progress(done / total, "separating", f"chunk {done}/{total}")

        def read(start: int, stop: int) -> torch.Tensor:
            return torch.from_numpy(((mix.read(start, stop) - mean) / scale).T.copy())

        def run_model(index: int, windows: torch.Tensor) -> torch.Tensor:
            torch.set_num_threads(self._threads)
            with torch.inference_mode():
                return model.models[index](windows.to(self._device)).cpu()

        def blocks():
            for block in overlap_add(
                passes,
                run_model,
                read,
                channels=model.audio_channels,
                stems=len(model.sources),
                batch_size=self.batch_size,
                on_chunk=on_chunk,
            ):
                restored = (block * scale + mean).numpy()
                yield {name: np.ascontiguousarray(restored[k].T) for k, name in enumerate(model.sources)}

        return StemStream(tuple(model.sources), options.model_name, blocks())


def _reference_stats(mix: MixReader) -> tuple[float, float]:
    """Mean and standard deviation of the mono mixture (demucs normalises its input by them), in one pass."""
    total = squares = 0.0
    for block in mix.blocks(_STATS_BLOCK_FRAMES):
        mono = block.mean(axis=1, dtype=np.float64)
        total += float(mono.sum())
        squares += float(np.square(mono).sum())
    count = mix.frames
    mean = total / count
    variance = (squares - count * mean * mean) / max(count - 1, 1)
    return mean, math.sqrt(max(variance, 0.0)) or 1.0
