"""Demucs from a local weights directory (the demucs "repo" layout: `<signature>.th` model files
and `<name>.yaml` bags naming them), loaded once per process per model name.

The `.th` files are pickles (torch.load with weights_only=False, as demucs loads them): only
point the weights directory at files you trust.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from beatflow_platform.errors import InvalidArgument
from beatflow_separator.engines.base import Progress, Separation, SeparationOptions

MODEL_NAMES = ("htdemucs", "htdemucs_ft", "htdemucs_6s")


class DemucsSeparator:
    name = "demucs"

    def __init__(self, weights_dir: Path | None, *, device: str = "cpu"):
        self._dir = weights_dir
        self._device = device
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    def available(self) -> tuple[bool, str]:
        if self._dir is None:
            return False, "no weights configured (set BEATFLOW_SEPARATOR_DEMUCS_MODEL_DIR)"
        if not self._dir.is_dir():
            return False, f"weights directory {self._dir} does not exist"
        names = sorted(p.stem for p in self._dir.glob("*.yaml") if p.stem in MODEL_NAMES)
        if not names:
            return False, f"no model of {', '.join(MODEL_NAMES)} in {self._dir}"
        return True, f"{', '.join(names)} from {self._dir} on {self._device}"

    def model(self, name: str):
        """The named model, loaded on first use and kept (blocking)."""
        from demucs.pretrained import get_model

        if name not in MODEL_NAMES:
            raise InvalidArgument.for_field("demucs.model_name", f"must be one of {', '.join(MODEL_NAMES)}")
        with self._lock:
            if name not in self._models:
                if not (self._dir / f"{name}.yaml").is_file():
                    raise InvalidArgument.for_field("demucs.model_name", f"{name!r} is not installed here")
                self._models[name] = get_model(name, repo=self._dir).to(self._device).eval()
            return self._models[name]

    def separate(self, samples: np.ndarray, rate: int, options: SeparationOptions, progress: Progress) -> Separation:
        import librosa
        import torch
        from demucs.apply import apply_model

        model = self.model(options.model_name)
        if rate != model.samplerate:
            samples = librosa.resample(samples.T, orig_sr=rate, target_sr=model.samplerate).T
        if samples.shape[1] != model.audio_channels:
            samples = np.repeat(samples.mean(axis=1, keepdims=True), model.audio_channels, axis=1)
        mix = torch.from_numpy(np.ascontiguousarray(samples.T, dtype=np.float32))
        reference = mix.mean(0)
        scale = float(reference.std()) or 1.0
        mix = (mix - reference.mean()) / scale
        total = _expected_segments(model, mix.shape[1], options)
        segments_done = 0

        def on_segment(info: dict) -> None:
            nonlocal segments_done
            if info.get("state") == "end":
                segments_done += 1
                progress(min(segments_done / total, 1.0) * 0.9, "separating", f"{segments_done}/{total} segments")

        with torch.inference_mode():
            sources = apply_model(
                model,
                mix[None].to(self._device),
                shifts=options.shifts,
                split=True,
                overlap=options.overlap,
                segment=options.segment_seconds or None,
                device=self._device,
                callback=on_segment,
            )[0]
        sources = (sources * scale + reference.mean()).cpu().numpy()
        stems = {name: sources[index].T.astype(np.float32) for index, name in enumerate(model.sources)}
        return Separation(stems, model.samplerate, options.model_name)


def _expected_segments(model, length: int, options: SeparationOptions) -> int:
    """How many model calls apply_model makes: segments x shifts x models of the bag."""
    members = getattr(model, "models", [model])
    segment = options.segment_seconds or float(getattr(model, "segment", None) or members[0].segment)
    stride = int((1 - options.overlap) * int(model.samplerate * segment))
    return len(members) * max(1, options.shifts) * len(range(0, length, max(stride, 1)))
