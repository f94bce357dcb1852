"""The engines this process offers."""

from __future__ import annotations

from beatflow_generator.engines.base import Engine
from beatflow_platform.errors import FailedPrecondition


class Engines:
    def __init__(self, engines: list[Engine]):
        self._engines = {engine.name: engine for engine in engines}

    @property
    def limits(self) -> dict[str, float]:
        """Engine name -> longest duration it renders (what requests are checked against)."""
        return {name: engine.max_duration_seconds for name, engine in self._engines.items()}

    def ready(self, name: str) -> Engine:
        engine = self._engines[name]
        available, detail = engine.available()
        if not available:
            raise FailedPrecondition(f"engine {name!r} cannot run here: {detail}", reason="ENGINE_UNAVAILABLE")
        return engine

    def describe(self) -> list[tuple[Engine, bool, str]]:
        return [(engine, *engine.available()) for engine in self._engines.values()]
