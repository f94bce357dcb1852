"""The separation engines this process offers, and their models by name."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from beatflow_platform.errors import FailedPrecondition, InvalidArgument
from beatflow_separator.engines.base import ModelInfo, Separator, StreamingSeparator
from beatflow_separator.engines.demucs_engine import DemucsSeparator
from beatflow_separator.engines.dsp import DspSeparator

DEFAULT_ENGINE = "dsp"
# The stems of a built-in (whole-track, weight-free) engine.
BUILT_IN_STEMS = ("drums", "bass", "vocals", "other")


def default_separators(weights_dir: Path | None, *, device: str = "cpu", batch_size: int = 0) -> Separators:
    """The engines every separator process offers: the DSP default and Demucs from `weights_dir`."""
    return Separators([DspSeparator(), DemucsSeparator(weights_dir, device=device, batch_size=batch_size)])


def code_revision(engine: Separator) -> str:
    """A weight-free engine's results depend on its code: the sha256 of the modules of its package
    folder whose names start with the defining module's (dsp.py, dsp_masks.py, dsp_blocks.py)."""
    source = sys.modules[type(engine).__module__].__file__
    assert source is not None  # engines are defined in .py modules
    module = Path(source)
    digest = hashlib.sha256()
    for path in sorted(module.parent.glob(f"{module.stem}*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Separators:
    def __init__(self, engines: list[Separator | StreamingSeparator]):
        self._engines = {engine.name: engine for engine in engines}

    def ready(self, name: str, field: str = "engine") -> Separator | StreamingSeparator:
        engine = self._engines.get(name or DEFAULT_ENGINE)
        if engine is None:
            raise InvalidArgument.for_field(field, f"must be one of {', '.join(sorted(self._engines))}")
        available, detail = engine.available()
        if not available:
            raise FailedPrecondition(f"engine {engine.name!r} cannot run here: {detail}", reason="ENGINE_UNAVAILABLE")
        return engine

    def models(self) -> list[ModelInfo]:
        """Blocking (reads weight files the first time)."""
        listed = []
        for engine in self._engines.values():
            if isinstance(engine, StreamingSeparator):
                listed.extend(engine.models())
            else:
                listed.append(ModelInfo(engine.name, engine.name, BUILT_IN_STEMS, True))
        return listed

    def resolve(self, engine: Separator | StreamingSeparator, requested: str) -> tuple[str, str]:
        """(model name, revision) of the requested model of `engine` ("" for its default): INVALID_ARGUMENT
        naming the available ones when unknown, FAILED_PRECONDITION when its weights are missing. Blocking."""
        if isinstance(engine, StreamingSeparator):
            name = requested or engine.default_model
            return name, engine.revision(name)
        if requested not in ("", engine.name):
            raise InvalidArgument.for_field(
                "demucs.model_name", f"engine {engine.name!r} has one model, {engine.name!r}; got {requested!r}"
            )
        return engine.name, code_revision(engine)
