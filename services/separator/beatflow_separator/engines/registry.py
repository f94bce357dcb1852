"""The separation engines this process offers."""

from __future__ import annotations

from beatflow_platform.errors import FailedPrecondition, InvalidArgument
from beatflow_separator.engines.base import Separator


class Separators:
    def __init__(self, engines: list[Separator]):
        self._engines = {engine.name: engine for engine in engines}

    def ready(self, name: str, field: str = "engine") -> Separator:
        engine = self._engines.get(name or "dsp")
        if engine is None:
            raise InvalidArgument.for_field(field, f"must be one of {', '.join(sorted(self._engines))}")
        available, detail = engine.available()
        if not available:
            raise FailedPrecondition(f"engine {engine.name!r} cannot run here: {detail}", reason="ENGINE_UNAVAILABLE")
        return engine
