"""MusicGen through transformers, from weights in a local directory only (never a hub download).

Longer pieces than one window are made by windowed continuation: each next window is prompted
with the last seconds of audio so far. Progress comes from a stopping criterion that sees
every generated token step; the same hook stops generation when the job is cancelled.
MusicGen renders a finished mix, so its only stem is "mix"; tempo and key are measured on it.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from beatflow_audio.analysis import analyse
from beatflow_generator.engines.base import Progress, Rendering
from beatflow_generator.spec import GenerationSpec

DEFAULTS = {"temperature": 1.0, "top_k": 250, "top_p": 0.0, "guidance_scale": 3.0}


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


def sampling_options(spec: GenerationSpec) -> dict:
    options = {
        "temperature": spec.temperature or DEFAULTS["temperature"],
        "top_k": spec.top_k or DEFAULTS["top_k"],
        "guidance_scale": spec.guidance_scale or DEFAULTS["guidance_scale"],
    }
    if spec.top_p:
        options["top_p"] = spec.top_p
    return options


def step_reporter(progress: Progress, total_steps: int):
    """A stopping criterion that reports every token step (and so lets JobCancelled stop generation)."""
    import torch
    from transformers import StoppingCriteria

    class Report(StoppingCriteria):
        steps = 0

        def __call__(self, input_ids, scores, **kwargs):
            self.steps += 1
            progress(min(self.steps / total_steps, 1.0) * 0.95, "generating", f"{self.steps}/{total_steps} steps")
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return Report()


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
        self._model = None
        self._processor = None
        # One generation at a time per loaded model: torch's RNG is seeded per request.
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
        self._model = model.to(self._device).eval()

    def render(self, spec: GenerationSpec, progress: Progress, melody_audio=None) -> Rendering:
        import torch

        model, processor = self._model, self._processor
        rate = model.config.audio_encoder.sampling_rate
        frame_rate = model.config.audio_encoder.frame_rate
        text = describe(spec)
        # Approximate: each window adds the few frames the codebook delay pattern costs.
        reporter = step_reporter(progress, math.ceil(spec.duration_seconds * frame_rate))
        audio = np.zeros((model.config.decoder.audio_channels, 0), dtype=np.float32)
        with self._lock, torch.inference_mode():
            torch.manual_seed(spec.seed)
            while audio.shape[1] < spec.duration_seconds * rate:
                remaining = spec.duration_seconds - audio.shape[1] / rate
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
                        do_sample=True,
                        # The codebook delay pattern eats one frame per extra codebook at the end.
                        max_new_tokens=math.ceil(new_seconds * frame_rate) + model.config.decoder.num_codebooks,
                        stopping_criteria=[reporter],
                        **sampling_options(spec),
                    )[0]
                    .float()
                    .cpu()
                    .numpy()
                )
                fresh = generated[:, context.shape[1] :] if context is not None else generated
                if fresh.shape[1] == 0:
                    break
                audio = np.concatenate([audio, fresh.astype(np.float32)], axis=1)
        return finish(audio, rate, spec, progress)

    def render_batch(self, specs: list[GenerationSpec], progress: Progress) -> list[Rendering]:
        """One forward pass for several prompts of one window at most; the batch shares the first
        request's seed and sampling settings. Longer pieces are rendered one after another."""
        import torch

        if any(spec.duration_seconds > self._window for spec in specs):
            return [self.render(spec, progress) for spec in specs]
        model, processor = self._model, self._processor
        rate = model.config.audio_encoder.sampling_rate
        steps = math.ceil(max(spec.duration_seconds for spec in specs) * model.config.audio_encoder.frame_rate)
        inputs = processor(text=[describe(spec) for spec in specs], padding=True, return_tensors="pt")
        inputs = {name: value.to(self._device) for name, value in inputs.items()}
        with self._lock, torch.inference_mode():
            torch.manual_seed(specs[0].seed)
            generated = (
                model.generate(
                    **inputs,
                    do_sample=True,
                    max_new_tokens=steps + model.config.decoder.num_codebooks,
                    stopping_criteria=[step_reporter(progress, steps)],
                    **sampling_options(specs[0]),
                )
                .float()
                .cpu()
                .numpy()
            )
        return [finish(audio, rate, spec, progress) for audio, spec in zip(generated, specs, strict=True)]
