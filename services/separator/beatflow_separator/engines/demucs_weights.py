"""What a local demucs weights directory holds, without loading any model.

The layout is demucs' local repo: `<name>.yaml` bags listing model signatures, and one
`<signature>.th` (or `<signature>-<checksum>.th`) file per model. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

_READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Bag:
    name: str
    yaml_path: Path
    signatures: tuple[str, ...]
    files: tuple[Path, ...]  # the model files found, in the order of `signatures`

    @property
    def complete(self) -> bool:
        return len(self.files) == len(self.signatures) > 0

    @property
    def missing(self) -> tuple[str, ...]:
        found = {_signature(path) for path in self.files}
        return tuple(s for s in self.signatures if s not in found)


def _signature(path: Path) -> str:
    return path.stem.split("-", 1)[0]


def scan(directory: Path) -> dict[str, Bag]:
    """Every bag in `directory` by name; unreadable yaml files are skipped."""
    models = {_signature(path): path for path in directory.glob("*.th")}
    bags = {}
    for yaml_path in sorted(directory.glob("*.yaml")):
        try:
            signatures = tuple(str(s) for s in yaml.safe_load(yaml_path.read_text())["models"])
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            continue
        files = tuple(models[s] for s in signatures if s in models)
        bags[yaml_path.stem] = Bag(yaml_path.stem, yaml_path, signatures, files)
    return bags


class FileFacts:
    """sha256 and model sources of weight files, computed once per file version (path, size, mtime)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._digests: dict[tuple, str] = {}
        self._sources: dict[tuple, tuple[str, ...]] = {}

    @staticmethod
    def _version(path: Path) -> tuple:
        stat = path.stat()
        return (str(path), stat.st_size, stat.st_mtime_ns)

    def sha256(self, path: Path) -> str:
        version = self._version(path)
        with self._lock:
            if version not in self._digests:
                digest = hashlib.sha256()
                with path.open("rb") as handle:
                    while chunk := handle.read(_READ_BYTES):
                        digest.update(chunk)
                self._digests[version] = digest.hexdigest()
            return self._digests[version]

    def sources(self, path: Path) -> tuple[str, ...]:
        """The stems a model file writes (read from its pickled constructor arguments)."""
        import torch

        version = self._version(path)
        with self._lock:
            if version not in self._sources:
                package = torch.load(path, map_location="cpu", weights_only=False)
                self._sources[version] = tuple(package["kwargs"]["sources"])
            return self._sources[version]

    def revision(self, bag: Bag) -> str:
        """One digest of the bag's yaml and all its model files."""
        digest = hashlib.sha256(bag.yaml_path.read_bytes())
        for path in bag.files:
            digest.update(self.sha256(path).encode())
        return digest.hexdigest()
