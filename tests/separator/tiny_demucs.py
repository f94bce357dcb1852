"""HTDemucs models with random weights, saved in demucs' local repo layout (model files plus a bag yaml).

`build` makes a tiny one by default (fast enough for tests); `RELEASED_SIZE` gives the released
htdemucs architecture (for memory and speed measurements).
"""

from __future__ import annotations

from pathlib import Path

SOURCES = ("drums", "bass", "other", "vocals")
SIX_SOURCES = ("drums", "bass", "other", "vocals", "guitar", "piano")
TINY_SIZE = {
    "channels": 8,
    "depth": 4,
    "t_layers": 1,
    "bottom_channels": 0,
    "dconv_depth": 1,
    "nfft": 2048,
    "segment": 1.0,
}
# HTDemucs' defaults are the released model's; its training segment is 7.8 s.
RELEASED_SIZE = {"segment": 7.8}


def save_model(directory: Path, signature: str, sources=SOURCES, seed: int = 0, size: dict = TINY_SIZE) -> Path:
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state

    torch.manual_seed(seed)
    model = HTDemucs(sources=list(sources), samplerate=44100, **size)
    args, kwargs = model._init_args_kwargs
    state = get_state(model, None, False)
    package = {"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": state, "training_args": {}}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{signature}.th"
    torch.save(package, path)
    return path


def save_bag(directory: Path, name: str, signatures: list[str], weights: list[list[float]] | None = None) -> Path:
    import yaml

    bag = {"models": signatures} | ({"weights": weights} if weights else {})
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(bag))
    return path


def build(
    directory: Path,
    name: str = "htdemucs",
    signature: str = "0a1b2c3d",
    sources=SOURCES,
    size: dict = TINY_SIZE,
) -> Path:
    """A one-model bag `name` in `directory`; returns the directory."""
    save_model(directory, signature, sources, size=size)
    save_bag(directory, name, [signature])
    return directory
