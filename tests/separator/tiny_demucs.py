"""A tiny HTDemucs with random weights, saved in demucs' local repo layout (model file plus bag yaml)."""

from __future__ import annotations

from pathlib import Path

SOURCES = ["drums", "bass", "other", "vocals"]


def build(directory: Path, name: str = "htdemucs", signature: str = "0a1b2c3d") -> Path:
    import torch
    import yaml
    from demucs.htdemucs import HTDemucs
    from demucs.states import get_state

    torch.manual_seed(0)
    model = HTDemucs(
        sources=SOURCES,
        channels=8,
        depth=4,
        nfft=4096,
        t_layers=1,
        bottom_channels=0,
        dconv_depth=1,
        segment=2.0,
        samplerate=44100,
    )
    args, kwargs = model._init_args_kwargs
    package = {
        "klass": HTDemucs,
        "args": args,
        "kwargs": kwargs,
        "state": get_state(model, None, False),
        "training_args": {},
    }
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(package, directory / f"{signature}.th")
    (directory / f"{name}.yaml").write_text(yaml.safe_dump({"models": [signature]}))
    return directory
