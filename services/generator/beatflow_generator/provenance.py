"""A generated commit's provenance: what made it, kept in the commit's `generation_params` so an
operation can build on it and the same generation can run again (see docs/generator.md).

`generation_params` is a protobuf Struct, whose numbers are doubles: seeds (int64) are written as
strings, and integral numbers are read back as ints.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beatflow_generator.spec import CONTINUE, REDO_STEM, REPAINT, GenerationSpec
from beatflow_platform.errors import FailedPrecondition

MARK = "beatflow-generator"  # `generated_by` of every provenance this service writes
PACKAGE_VERSION = importlib.metadata.version("beatflow")


@dataclass(frozen=True)
class Provenance:
    engine: str
    engine_version: str  # the package version for built-in engines
    model_revision: str  # the weights' revision for model engines; empty for built-in ones
    renderer: str
    spec: GenerationSpec
    source_commit_id: str  # the commit an operation worked on (or the request's context commit)
    midi: dict[str, str]  # stem -> blob id of its Standard MIDI File
    hum_blob_id: str = ""  # the recording a hum-to-beat followed
    mix_scale: float = 0.0  # the engine's one gain over the stems (Rendering.mix_scale); an edit levels with it

    def as_params(self) -> dict:
        """JSON for a commit's generation_params."""
        spec = self.spec.as_payload()
        return {
            "generated_by": MARK,
            "engine": self.engine,
            "engine_version": self.engine_version,
            "model_revision": self.model_revision,
            "renderer": self.renderer,
            "seed": str(self.spec.seed),
            "operation": self.spec.operation.kind if self.spec.operation else "",
            "source_commit_id": self.source_commit_id,
            "midi": dict(self.midi),
            "hum_blob_id": self.hum_blob_id,
            "mix_scale": self.mix_scale,
            "spec": _seeds_as_text(spec),
        }

    @classmethod
    def from_params(cls, params: dict, commit_id: str) -> Provenance:
        """Reads `as_params` back from commit `commit_id`; FAILED_PRECONDITION when the commit was not
        made by this service."""
        if params.get("generated_by") != MARK or not isinstance(params.get("spec"), dict):
            raise FailedPrecondition(
                f"commit {commit_id} has no generator provenance: it was not made by generating into a repository",
                reason="NO_PROVENANCE",
            )
        return cls(
            engine=params["engine"],
            engine_version=params.get("engine_version", ""),
            model_revision=params.get("model_revision", ""),
            renderer=params.get("renderer", ""),
            spec=GenerationSpec.from_payload(_from_struct(params["spec"])),
            source_commit_id=params.get("source_commit_id", ""),
            midi=dict(params.get("midi") or {}),
            hum_blob_id=params.get("hum_blob_id", ""),
            mix_scale=recorded_mix_scale(params),
        )


def recorded_mix_scale(params: dict) -> float:
    """The mix scale a commit's generation_params record; 0.0 where none is (a commit this service did
    not make, or made before the scale was recorded). A double holds a float32 scale exactly."""
    return float(params.get("mix_scale", 0.0)) if params.get("generated_by") == MARK else 0.0


def weights_revision(directory: Path) -> str:
    """A model's revision: "sha256:" and the first 16 hex digits of a hash over every file of its
    weights directory (relative names and contents). Read once at start-up, about a second per GB."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return f"sha256:{digest.hexdigest()[:16]}"


def _seeds_as_text(payload: dict) -> dict:
    """The spec payload with every seed (nested sources' too) as a string."""
    return {
        name: str(value) if name == "seed" else _seeds_as_text(value) if isinstance(value, dict) else value
        for name, value in payload.items()
    }


def _from_struct(payload: dict[str, Any]) -> dict[str, Any]:
    """Struct JSON -> the payload as written: seeds back to ints, integral doubles to ints."""
    return {name: int(item) if name == "seed" else _from_struct_value(item) for name, item in payload.items()}


def _from_struct_value(value: object) -> object:
    if isinstance(value, dict):
        return _from_struct(value)
    if isinstance(value, list):
        return [_from_struct_value(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def commit_message(spec: GenerationSpec, bpm: int, key: str, stems: list[str], source_commit_id: str) -> str:
    """What a landed generation did, in a line."""
    operation, source = spec.operation, source_commit_id[:12]
    if operation is None:
        what = f'Generate "{spec.prompt}"' if spec.prompt else "Generate a beat"
        if spec.melody:
            what += " around a hummed melody"
    elif operation.kind == CONTINUE:
        what = f"Continue {source} by {operation.bars} bars"
    elif operation.kind == REPAINT:
        what = f"Repaint {operation.start_seconds:g}-{operation.end_seconds:g} s of {source}"
    elif operation.kind == REDO_STEM:
        what = f"Redo the {operation.stem} of {source}"
    else:
        what = f"Loop {operation.bars} bars" + (f" of {source}" if spec.source else "")
    return f"{what} ({spec.engine}, seed {spec.seed}): {', '.join(stems)} at {bpm} bpm in {key}"
