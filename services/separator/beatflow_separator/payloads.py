"""The payloads of the separator's jobs, as stored in the job row and read back by the handlers.

The JSON is the form the service has always written:
- separator.separate: {"source_blob_id", "engine", "options": {"model_name"} plus, for a chunking
  engine, its "segment_seconds", "overlap" and "shifts", "revision", "cache_key"};
- separator.analyze: {"blob_id", "waveform_points"}.
Rows written before a key existed read with its default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from beatflow_platform.jobs.payloads import JsonObject
from beatflow_separator.engines.base import SeparationOptions


@dataclass(frozen=True)
class Chunking:
    """How a chunking engine cuts the track (part of what its result, and the cache key, depend on)."""

    segment_seconds: float = 0.0  # 0: the model's training segment
    overlap: float = 0.25
    shifts: int = 0

    def to_json(self) -> JsonObject:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SeparationPayload:
    source_blob_id: str
    engine: str
    model_name: str
    chunking: Chunking | None = None  # None for an engine that separates the whole track at once
    revision: str | None = None  # the weights' revision at submit; None in rows queued before it was recorded
    cache_key: str = ""

    @property
    def options(self) -> SeparationOptions:
        chunking = self.chunking.to_json() if self.chunking else {}
        return SeparationOptions(model_name=self.model_name, **chunking)

    def to_json(self) -> JsonObject:
        data: JsonObject = {
            "source_blob_id": self.source_blob_id,
            "engine": self.engine,
            "options": {"model_name": self.model_name, **(self.chunking.to_json() if self.chunking else {})},
            "cache_key": self.cache_key,
        }
        if self.revision is not None:
            data["revision"] = self.revision
        return data

    @classmethod
    def from_json(cls, data: JsonObject) -> SeparationPayload:
        options = dict(data["options"])
        model_name = options.pop("model_name", SeparationOptions.model_name)
        return cls(
            source_blob_id=data["source_blob_id"],
            engine=data["engine"],
            model_name=model_name,
            chunking=Chunking(**options) if options else None,
            revision=data.get("revision"),
            cache_key=data.get("cache_key", ""),
        )


@dataclass(frozen=True)
class AnalysisPayload:
    blob_id: str
    waveform_points: int

    def to_json(self) -> JsonObject:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: JsonObject) -> AnalysisPayload:
        return cls(data["blob_id"], data["waveform_points"])
