"""Commits as immutable content: the canonical bytes and the id that is their sha256.

The canonical form is compact JSON with sorted keys; stems are sorted by name and carry
the audio facts of their blob, so the id pins exactly what was committed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from beatflow_audio.theory import spelled_mode
from beatflow_platform import naming
from beatflow_platform.errors import InvalidArgument

FORMAT_VERSION = 1
MAX_PARAMS_BYTES = 16 * 1024


@dataclass(frozen=True)
class TreeEntry:
    """One stem of a commit's tree."""

    blob_id: str
    size_bytes: int
    audio_format: str
    duration_seconds: float
    sample_rate: int
    channels: int


Tree = dict[str, TreeEntry]


@dataclass(frozen=True)
class CommitContent:
    parents: tuple[str, ...]
    author_id: str
    message: str
    bpm: float
    key_signature: str
    generation_params: dict
    tree: Tree
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def canonical(self) -> bytes:
        document = {
            "format": FORMAT_VERSION,
            "parents": list(self.parents),
            "author": self.author_id,
            "message": self.message,
            "bpm": self.bpm,
            "key": self.key_signature,
            "params": self.generation_params,
            "stems": [
                {
                    "name": name,
                    "blob": entry.blob_id,
                    "size": entry.size_bytes,
                    "format": entry.audio_format,
                    "duration": entry.duration_seconds,
                    "rate": entry.sample_rate,
                    "channels": entry.channels,
                }
                for name, entry in sorted(self.tree.items())
            ],
            "time": self.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()

    @property
    def commit_id(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def normalise_key(value: str, field_name: str = "key_signature") -> str:
    """'c Major', 'A min', 'F#m', 'Bb', 'd Dorian' -> 'C major', 'A minor', 'F# minor', 'Bb major',
    'D dorian'; '' stays ''."""
    if not value:
        return ""
    try:
        tonic, mode = spelled_mode(value)
    except ValueError:
        raise InvalidArgument.for_field(
            field_name, "must be a key such as 'C major', 'F# minor' or 'D dorian'"
        ) from None
    return f"{tonic} {mode}"


def check_bpm(value: float, field_name: str = "bpm") -> float:
    if not math.isfinite(value) or not (value == 0 or 1 <= value <= naming.MAX_COMMIT_BPM):
        raise InvalidArgument.for_field(field_name, f"must be 0 (unknown) or 1 to {naming.MAX_COMMIT_BPM:.0f}")
    return value


def check_params(params: dict, field_name: str = "generation_params") -> dict:
    try:
        encoded = json.dumps(params, sort_keys=True, allow_nan=False)
    except ValueError:
        raise InvalidArgument.for_field(field_name, "must not contain NaN or infinite numbers") from None
    if len(encoded) > MAX_PARAMS_BYTES:
        raise InvalidArgument.for_field(field_name, f"must be at most {MAX_PARAMS_BYTES} bytes as JSON")
    return params
