"""Where the CLI keeps the API address and the caller's tokens (a 0600 file in the user's config dir)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import typer

DEFAULT_API = "http://127.0.0.1:8000"


def config_dir() -> Path:
    return Path(os.environ.get("BEATFLOW_CONFIG_DIR") or typer.get_app_dir("beatflow"))


@dataclass
class Credentials:
    api: str = DEFAULT_API
    username: str = ""
    access_token: str = ""
    refresh_token: str = ""

    @classmethod
    def load(cls) -> Credentials:
        path = config_dir() / "credentials.json"
        if not path.exists():
            return cls()
        return cls(**{**asdict(cls()), **json.loads(path.read_text())})

    def save(self) -> None:
        directory = config_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / "credentials.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(asdict(self), handle)
        path.chmod(0o600)  # also when the file existed with looser rights
