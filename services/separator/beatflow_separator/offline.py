"""Separation in-process, for `beatflow separate --offline`: the service's engines and pipeline on a
local file, stems written into a directory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from beatflow_separator import pipeline
from beatflow_separator.engines.base import Progress, SeparationOptions
from beatflow_separator.engines.registry import default_separators

DEFAULT_OPTIONS = SeparationOptions()


def separate_file(
    mixture: Path,
    out_dir: Path,
    *,
    engine: str = "dsp",
    model: str = "",
    weights_dir: Path | None = None,
    device: str = "cpu",
    batch_size: int = 0,
    audio_format: str = "WAV",
    options: SeparationOptions = DEFAULT_OPTIONS,
    progress: Progress = lambda *_: None,
) -> pipeline.Outcome:
    """Writes `<stem>.<format>` for every stem of the model into `out_dir` (created if needed).

    Raises the service's errors: INVALID_ARGUMENT for an unknown engine or model (naming the
    available ones) or audio it cannot decode, FAILED_PRECONDITION when the weights are missing.
    """
    separators = default_separators(weights_dir, device=device, batch_size=batch_size)
    chosen = separators.ready(engine)
    model_name, _ = separators.resolve(chosen, model)
    out_dir.mkdir(parents=True, exist_ok=True)
    return pipeline.separate(
        chosen, mixture, out_dir, replace(options, model_name=model_name), progress, audio_format=audio_format
    )
