"""MusicGen-Melody: text plus the chroma of a hummed or played melody, from local weights only.

The chroma is computed as transformers' MusicgenMelodyFeatureExtractor computes it (normalised
power STFT, librosa chroma filter bank, one-hot of the strongest pitch class per frame), with
torch.stft instead of torchaudio, which has no build for the pinned torch. One window of at
most 30 s; tempo and key of the result are measured on it.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import librosa
import numpy as np

from beatflow_generator.engines.base import MelodyAudio, Progress, Rendering, SourceAudio
from beatflow_generator.engines.musicgen import CodecShape, describe, finish, step_reporter
from beatflow_generator.spec import GenerationSpec
from beatflow_platform.errors import FailedPrecondition

if TYPE_CHECKING:
    import torch
    from transformers import MusicgenMelodyForConditionalGeneration


@dataclass(frozen=True)
class ChromaSettings:
    sampling_rate: int = 32000
    n_fft: int = 16384
    hop_length: int = 4096
    num_chroma: int = 12

    @classmethod
    def from_directory(cls, directory: Path) -> ChromaSettings:
        config = json.loads((directory / "preprocessor_config.json").read_text())
        return cls(**{name: config[name] for name in ("sampling_rate", "n_fft", "hop_length", "num_chroma")})


def melody_chroma(samples: np.ndarray, rate: int, settings: ChromaSettings) -> torch.Tensor:
    """[frames, channels] audio -> one-hot chroma [1, time, num_chroma] as a float tensor."""
    import torch
    from transformers.audio_utils import chroma_filter_bank

    mono = librosa.resample(samples.mean(axis=1), orig_sr=rate, target_sr=settings.sampling_rate)
    waveform = torch.from_numpy(np.ascontiguousarray(mono, dtype=np.float32))
    if waveform.shape[-1] < settings.n_fft:
        pad = settings.n_fft - waveform.shape[-1]
        waveform = torch.nn.functional.pad(waveform, (pad // 2, pad - pad // 2))
    window = torch.hann_window(settings.n_fft)
    spectrum = torch.stft(
        waveform,
        settings.n_fft,
        settings.hop_length,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    power = (spectrum.abs() / window.pow(2).sum().sqrt()) ** 2
    filters = torch.from_numpy(
        chroma_filter_bank(
            sampling_rate=settings.sampling_rate,
            num_frequency_bins=settings.n_fft,
            tuning=0,
            num_chroma=settings.num_chroma,
        )
    ).float()
    chroma = torch.nn.functional.normalize(filters @ power, p=float("inf"), dim=0, eps=1e-6).T
    one_hot = torch.zeros_like(chroma)
    one_hot.scatter_(1, chroma.argmax(dim=1, keepdim=True), 1.0)
    return one_hot[None]


class MusicgenMelodyEngine:
    name = "musicgen-melody"
    melody_input = "audio"
    max_batch = 1
    max_duration_seconds = 30.0
    operations: frozenset[str] = frozenset()
    source_input = "audio"

    def __init__(self, model_dir: Path | None, *, device: str = "cpu"):
        self._dir = model_dir
        self._device = device
        self._model: MusicgenMelodyForConditionalGeneration | None = None
        self._tokenizer: Any = None  # transformers' AutoTokenizer is untyped
        self._chroma: ChromaSettings | None = None
        self._lock = threading.Lock()

    def available(self) -> tuple[bool, str]:
        if self._dir is None:
            return False, "no weights configured (set BEATFLOW_GENERATOR_MUSICGEN_MELODY_MODEL_DIR)"
        if self._model is None:
            return False, f"weights in {self._dir} are not loaded"
        return True, f"weights from {self._dir} on {self._device}"

    def load(self) -> None:
        from transformers import AutoTokenizer, MusicgenMelodyForConditionalGeneration

        if self._dir is None or not (self._dir / "config.json").is_file():
            raise FileNotFoundError(f"no MusicGen-Melody weights (config.json) in {self._dir}")
        self._chroma = ChromaSettings.from_directory(self._dir)
        self._tokenizer = AutoTokenizer.from_pretrained(self._dir, local_files_only=True)
        model = MusicgenMelodyForConditionalGeneration.from_pretrained(self._dir, local_files_only=True)
        # transformers wraps `to` in functools.wraps(torch.nn.Module.to), which pyright reads as unbound.
        model.to(self._device)  # pyright: ignore[reportArgumentType]
        self._model = model.eval()

    def render(
        self,
        spec: GenerationSpec,
        progress: Progress,
        melody_audio: MelodyAudio | None = None,
        source_audio: SourceAudio | None = None,
    ) -> Rendering:
        """`melody_audio` is (samples [frames, channels], rate) of the melody to follow, or None."""
        import torch

        from beatflow_generator.engines.seeded_sampling import SeededSampler, generate_options

        if spec.operation is not None:
            raise FailedPrecondition(
                f"engine {self.name!r} performs no creative operations ({spec.operation.kind} asked for)",
                reason="OPERATION_UNSUPPORTED",
            )
        model, chroma = self._model, self._chroma
        assert model is not None and chroma is not None  # the registry hands out only engines that loaded
        shape = CodecShape.of(model.config)
        rate, frame_rate = shape.sampling_rate, shape.frame_rate
        inputs = dict(self._tokenizer([describe(spec)], padding=True, return_tensors="pt"))
        if melody_audio is not None:
            inputs["input_features"] = melody_chroma(*melody_audio, chroma)
        inputs = {name: value.to(self._device) for name, value in inputs.items()}
        steps = math.ceil(spec.duration_seconds * frame_rate)
        with self._lock, torch.inference_mode():
            audio = (
                model.generate(
                    **inputs,
                    max_new_tokens=steps + shape.num_codebooks,
                    stopping_criteria=step_reporter(progress, steps),
                    **generate_options(SeededSampler([spec], shape.num_codebooks), [spec]),
                )[0]
                .float()
                .cpu()
                .numpy()
            )
        return finish(audio, rate, spec, progress)
