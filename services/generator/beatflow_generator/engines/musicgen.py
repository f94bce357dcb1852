"""MusicGen through transformers, from weights in a local directory only (never a hub download).

Longer pieces than one window are made by windowed continuation: each next window is prompted
with the last seconds of audio so far. The "continue" operation is the same continuation from
the source's audio. Progress comes from a stopping criterion that sees every generated token
step; the same hook stops generation when the job is cancelled. Tokens are drawn with one
generator per request (`seeded_sampling`), so a request gives the same audio alone or in a batch.
MusicGen renders a finished mix, so its only stem is "mix"; tempo and key are measured on it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import librosa
import numpy as np

from beatflow_audio.analysis import analyse
from beatflow_generator.engines.base import MelodyAudio, Progress, Rendering, SourceAudio
from beatflow_generator.spec import CONTINUE, GenerationSpec
from beatflow_platform.errors import FailedPrecondition

if TYPE_CHECKING:
    import torch
    from transformers import (
        MusicgenConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        StoppingCriteriaList,
    )


def describe(spec: GenerationSpec) -> str:
    """The text prompt, with the musical facts the request pins down."""
    facts = [spec.prompt]
    if spec.mood:
        facts.append(f"{spec.mood} mood")
    if spec.bpm:
        facts.append(f"{spec.bpm} bpm")
    if spec.key:
        facts.append(spec.key.name)
    return ", ".join(fact for fact in facts if fact)


@dataclass(frozen=True)
class CodecShape:
    """What windowed generation needs to know of a loaded model's audio codec and decoder."""

    sampling_rate: int
    frame_rate: float
    audio_channels: int
    num_codebooks: int

    @classmethod
    def of(cls, config: MusicgenConfig | MusicgenMelodyConfig) -> CodecShape:
        from transformers import PreTrainedConfig

        # Declared `dict | PreTrainedConfig | None`: a loaded model's sub-configs are configs.
        codec, decoder = config.audio_encoder, config.decoder
        assert isinstance(codec, PreTrainedConfig) and isinstance(decoder, PreTrainedConfig)
        return cls(codec.sampling_rate, codec.frame_rate, decoder.audio_channels, decoder.num_codebooks)


def step_reporter(progress: Progress, total_steps: int) -> StoppingCriteriaList:
    """A stopping criterion that reports every token step (and so lets JobCancelled stop generation)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Report(StoppingCriteria):
        steps = 0

        def __call__(
            self, input_ids: torch.LongTensor, scores: tuple[torch.Tensor] | None, **kwargs: Any
        ) -> torch.BoolTensor:
            self.steps += 1
            progress(min(self.steps / total_steps, 1.0) * 0.95, "generating", f"{self.steps}/{total_steps} steps")
            stop = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            # transformers declares the legacy BoolTensor class, which no torch operation returns.
            return cast(torch.BoolTensor, stop)

    return StoppingCriteriaList([Report()])


def finish(audio: np.ndarray, rate: int, spec: GenerationSpec, progress: Progress) -> Rendering:
    """[channels, samples] model output -> a stereo mix at -1 dBFS at most, with measured tempo and key."""
    samples = audio[:, : int(spec.duration_seconds * rate)].T
    if samples.shape[1] == 1:
        samples = np.repeat(samples, 2, axis=1)
    peak = float(np.abs(samples).max()) or 1.0
    samples = (samples * min(1.0, 0.89 / peak)).astype(np.float32)
    progress(0.97, "measuring", "tempo and key")
    measured = analyse(samples, rate, peak_points=1)
    bpm = round(measured.bpm) if measured.bpm > 0 else spec.bpm
    return Rendering({"mix": samples}, rate, bpm, measured.key)


class MusicgenEngine:
    name = "musicgen"
    melody_input = ""
    max_duration_seconds = 300.0
    operations: frozenset[str] = frozenset({CONTINUE})
    source_input = "audio"

    def __init__(
        self,
        model_dir: Path | None,
        *,
        device: str = "cpu",
        window_seconds: float = 30.0,
        context_seconds: float = 10.0,
        max_batch: int = 4,
    ):
        self.max_batch = max_batch
        self._dir = model_dir
        self._device = device
        self._window = window_seconds
        self._context = context_seconds
        self._model: MusicgenForConditionalGeneration | None = None
        self._processor: Any = None  # transformers' AutoProcessor is untyped
        # One generation at a time per loaded model.
        self._lock = threading.Lock()

    def available(self) -> tuple[bool, str]:
        if self._dir is None:
            return False, "no weights configured (set BEATFLOW_GENERATOR_MUSICGEN_MODEL_DIR)"
        if self._model is None:
            return False, f"weights in {self._dir} are not loaded"
        return True, f"weights from {self._dir} on {self._device}"

    def load(self) -> None:
        """Loads the model and processor (blocking; call once at start-up in a thread)."""
        from transformers import AutoProcessor, MusicgenForConditionalGeneration

        if self._dir is None or not (self._dir / "config.json").is_file():
            raise FileNotFoundError(f"no MusicGen weights (config.json) in {self._dir}")
        model = MusicgenForConditionalGeneration.from_pretrained(self._dir, local_files_only=True)
        self._processor = AutoProcessor.from_pretrained(self._dir, local_files_only=True)
        # transformers wraps `to` in functools.wraps(torch.nn.Module.to), which pyright reads as unbound.
        model.to(self._device)  # pyright: ignore[reportArgumentType]
        self._model = model.eval()

    def _loaded(self) -> tuple[MusicgenForConditionalGeneration, Any, CodecShape]:
        """The model, its processor and codec shape; the registry hands out only engines that loaded."""
        assert self._model is not None
        return self._model, self._processor, CodecShape.of(self._model.config)

    def render(
        self,
        spec: GenerationSpec,
        progress: Progress,
        melody_audio: MelodyAudio | None = None,
        source_audio: SourceAudio | None = None,
    ) -> Rendering:
        """A new piece, or with a "continue" operation the source's audio (`source_audio`) and its
        continuation."""
        if spec.operation is not None:
            if spec.operation.kind != CONTINUE or source_audio is None:
                raise FailedPrecondition(
                    f"engine {self.name!r} can only continue from the source's audio, not {spec.operation.kind}",
                    reason="OPERATION_UNSUPPORTED",
                )
            return self._continue(spec, progress, source_audio.mix(), source_audio.sample_rate)
        shape = self._loaded()[2]
        silence = np.zeros((shape.audio_channels, 0), dtype=np.float32)
        audio = self._generate(spec, progress, silence, spec.duration_seconds)
        return finish(audio, shape.sampling_rate, spec, progress)

    def _generate(self, spec: GenerationSpec, progress: Progress, prompt: np.ndarray, seconds: float) -> np.ndarray:
        """[channels, samples]: `seconds` of new audio after `prompt` ([channels, samples] at the
        model's rate, possibly empty), window by window."""
        import torch

        from beatflow_generator.engines.seeded_sampling import SeededSampler, generate_options

        model, processor, shape = self._loaded()
        rate, frame_rate = shape.sampling_rate, shape.frame_rate
        text = describe(spec)
        # Approximate: each window adds the few frames the codebook delay pattern costs.
        reporter = step_reporter(progress, math.ceil(seconds * frame_rate))
        audio, made = prompt, 0
        sampler = SeededSampler([spec], shape.num_codebooks)  # one for all windows
        with self._lock, torch.inference_mode():
            while made < seconds * rate:
                remaining = seconds - made / rate
                context = audio[:, -int(self._context * rate) :] if audio.shape[1] else None
                new_seconds = min(remaining, self._window - (self._context if context is not None else 0.0))
                if context is None:
                    inputs = processor(text=[text], padding=True, return_tensors="pt")
                else:
                    inputs = processor(
                        audio=[context[0] if context.shape[0] == 1 else context],
                        sampling_rate=rate,
                        text=[text],
                        padding=True,
                        return_tensors="pt",
                    )
                inputs = {name: value.to(self._device) for name, value in inputs.items()}
                generated = (
                    model.generate(
                        **inputs,
                        # The codebook delay pattern eats one frame per extra codebook at the end.
                        max_new_tokens=math.ceil(new_seconds * frame_rate) + shape.num_codebooks,
                        stopping_criteria=reporter,
                        **generate_options(sampler, [spec]),
                    )[0]
                    .float()
                    .cpu()
                    .numpy()
                )
                fresh = generated[:, context.shape[1] :] if context is not None else generated
                if fresh.shape[1] == 0:
                    break
                audio = np.concatenate([audio, fresh.astype(np.float32)], axis=1)
                made += fresh.shape[1]
        return audio[:, prompt.shape[1] :]

    def _continue(self, spec: GenerationSpec, progress: Progress, samples: np.ndarray, source_rate: int) -> Rendering:
        """The source mix (resampled to the model's rate) and `bars` more, generated from its end."""
        shape = self._loaded()[2]
        rate, channels = shape.sampling_rate, shape.audio_channels
        source = librosa.resample(np.ascontiguousarray(samples.T), orig_sr=source_rate, target_sr=rate)
        prompt = source.mean(axis=0, keepdims=True) if channels == 1 else source
        bpm = spec.bpm or round(analyse(samples, source_rate, peak_points=1).bpm) or 120  # spec.bpm: the source's
        assert spec.operation is not None  # render() sends only continuations here
        seconds = spec.operation.bars * 240.0 / bpm
        new = self._generate(spec, progress, prompt.astype(np.float32), seconds)[:, : round(seconds * rate)]
        new = new * min(1.0, 0.89 / max(float(np.abs(new).max()), 1e-9))
        mix = np.concatenate([source, np.broadcast_to(new, (2, new.shape[1]))], axis=1).T
        progress(0.97, "measuring", "tempo and key")
        measured = analyse(mix, rate, peak_points=1)
        report = {
            "operation": CONTINUE,
            "bars_added": spec.operation.bars,
            "bpm": bpm,
            "join_seconds": round(source.shape[1] / rate, 6),
            "duration_seconds": round(mix.shape[0] / rate, 6),
            "source_resampled_from": source_rate,
        }
        return Rendering({"mix": mix.astype(np.float32)}, rate, bpm, measured.key, report=report)

    def render_batch(self, specs: list[GenerationSpec], progress: Progress) -> list[Rendering]:
        """One forward pass for several requests of one window at most, each drawing its tokens with
        its own seed and sampling settings; longer pieces, continuations and requests with
        different guidance scales are rendered one after another."""
        import torch

        from beatflow_generator.engines.seeded_sampling import SeededSampler, generate_options, guidance_scale

        if (
            any(spec.duration_seconds > self._window or spec.operation is not None for spec in specs)
            or len({guidance_scale(spec) for spec in specs}) > 1
        ):
            return [self.render(spec, progress) for spec in specs]
        model, processor, shape = self._loaded()
        rate = shape.sampling_rate
        steps = math.ceil(max(spec.duration_seconds for spec in specs) * shape.frame_rate)
        inputs = processor(text=[describe(spec) for spec in specs], padding=True, return_tensors="pt")
        inputs = {name: value.to(self._device) for name, value in inputs.items()}
        with self._lock, torch.inference_mode():
            generated = (
                model.generate(
                    **inputs,
                    max_new_tokens=steps + shape.num_codebooks,
                    stopping_criteria=step_reporter(progress, steps),
                    **generate_options(SeededSampler(specs, shape.num_codebooks), specs),
                )
                .float()
                .cpu()
                .numpy()
            )
        return [finish(audio, rate, spec, progress) for audio, spec in zip(generated, specs, strict=True)]
