"""MusicGen speed on a CUDA device: small and medium at their released sizes, random weights, fp16.

The models are built from a MusicgenConfig with the dimensions of the released checkpoints
(facebook/musicgen-small and facebook/musicgen-medium; nothing is downloaded, and speed does not
depend on the weights):

- text encoder: t5-base, d_model 768, d_kv 64, d_ff 3072, 12 layers, 12 heads, vocabulary 32128;
- audio codec: EnCodec 32 kHz, mono, hidden 128, 64 filters, upsampling 8x5x4x4 (640 samples a
  frame, so 50 frames/s), 2 LSTM layers, 4 codebooks of 2048 codes (dim 128), non-causal;
- decoder, small: hidden 1024, 24 layers, 16 heads, ffn 4096; medium: hidden 1536, 48 layers,
  24 heads, ffn 6144; both vocabulary 2048 per codebook, 4 codebooks, 2048 positions.

That is 586.9 M parameters for small and 2005.3 M for medium (`parameter_count`), the text
encoder and codec included.

Each model generates AUDIO_SECONDS of audio from random text-token ids, the way the service's
engine does: greedy `generate` with classifier-free guidance (scale 3) and one seeded sampler per
item (top-k 250) from `beatflow_generator.engines.seeded_sampling`. Real-time factor = seconds of
audio made x batch / wall seconds, timed after one warm-up run. `python -m bench musicgen_gpu`
(a slow area: it runs only when named) refuses to run without CUDA.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from transformers import (
    EncodecConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    T5Config,
)

from beatflow_generator.engines.seeded_sampling import SeededSampler, generate_options
from beatflow_generator.spec import GenerationSpec

AUDIO_SECONDS = 10.0
PROMPT_TOKENS = 12  # a short text prompt's length in T5 tokens


@dataclass(frozen=True)
class DecoderSize:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    ffn_dim: int


RELEASED_DECODERS = {
    "small": DecoderSize(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, ffn_dim=4096),
    "medium": DecoderSize(hidden_size=1536, num_hidden_layers=48, num_attention_heads=24, ffn_dim=6144),
}
# (model, batch) pairs measured, with the figure each gives.
RUNS = (("small", 1), ("small", 4), ("medium", 1))


def released_config(size: str) -> MusicgenConfig:
    """The released checkpoint's architecture for `size` ("small" or "medium")."""
    text = T5Config(
        vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12, feed_forward_proj="relu"
    )
    audio = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        hidden_size=128,
        num_filters=64,
        num_residual_layers=1,
        upsampling_ratios=[8, 5, 4, 4],
        num_lstm_layers=2,
        codebook_size=2048,
        codebook_dim=128,
        target_bandwidths=[2.2],
        use_causal_conv=False,
        use_conv_shortcut=False,
        normalize=False,
    )
    decoder = MusicgenDecoderConfig(
        **vars(RELEASED_DECODERS[size]),
        vocab_size=2048,
        num_codebooks=4,
        max_position_embeddings=2048,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    return MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)


def parameter_count(config: MusicgenConfig) -> int:
    """Parameters of the model `config` describes, counted on the meta device (no memory, no init)."""
    with torch.device("meta"):
        return sum(parameter.numel() for parameter in MusicgenForConditionalGeneration(config).parameters())


def build(config: MusicgenConfig, device: torch.device, dtype: torch.dtype) -> MusicgenForConditionalGeneration:
    """A randomly initialised model on `device`, ready for `generate`."""
    torch.manual_seed(0)
    with torch.device(device):
        model = MusicgenForConditionalGeneration(config)
    token = config.decoder.pad_token_id  # one past the codes: pads and starts
    model.generation_config.decoder_start_token_id = token
    model.generation_config.pad_token_id = token
    return model.to(dtype).eval()


def realtime_factor(
    model: MusicgenForConditionalGeneration, batch: int, seconds: float, guidance_scale: float = 3.0
) -> float:
    """Seconds of audio made x batch / wall seconds, for `batch` prompts of `seconds` each, timed
    after one untimed warm-up."""
    device = model.device
    frame_rate = model.config.audio_encoder.frame_rate
    codebooks = model.config.decoder.num_codebooks
    generator = torch.Generator().manual_seed(batch)
    input_ids = torch.randint(0, model.config.text_encoder.vocab_size, (batch, PROMPT_TOKENS), generator=generator)
    inputs = {"input_ids": input_ids.to(device), "attention_mask": torch.ones_like(input_ids).to(device)}
    # As the engine asks: the codebook delay pattern eats one frame per extra codebook at the end.
    max_new_tokens = math.ceil(seconds * frame_rate) + codebooks
    specs = [
        GenerationSpec(
            prompt="",
            bpm=0,
            mood="",
            duration_seconds=seconds,
            key=None,
            engine="musicgen",
            seed=item + 1,
            guidance_scale=guidance_scale,
        )
        for item in range(batch)
    ]

    def generate() -> torch.Tensor:
        options = generate_options(SeededSampler(specs, codebooks), specs)
        with torch.inference_mode():
            audio = model.generate(**inputs, max_new_tokens=max_new_tokens, **options)
        _synchronise(device)
        return audio

    generate()
    started = time.perf_counter()
    audio = generate()
    wall = time.perf_counter() - started
    made_seconds = audio.shape[-1] / model.config.audio_encoder.sampling_rate
    return made_seconds * batch / wall


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run() -> dict[str, float | str]:
    if not torch.cuda.is_available():
        raise SystemExit("musicgen_gpu: no CUDA device here; these figures are taken on a GPU only (nothing written)")
    device = torch.device("cuda")
    figures: dict[str, float | str] = {"musicgen_gpu_audio_seconds": AUDIO_SECONDS}
    for size in dict.fromkeys(size for size, _ in RUNS):
        config = released_config(size)
        figures[f"musicgen_{size}_parameters_millions"] = round(parameter_count(config) / 1e6, 1)
        model = build(config, device, torch.float16)
        for batch in (batch for run_size, batch in RUNS if run_size == size):
            factor = realtime_factor(model, batch, AUDIO_SECONDS)
            figures[f"musicgen_{size}_gpu_realtime_factor_b{batch}"] = round(factor, 2)
        del model
        torch.cuda.empty_cache()
    figures["gpu"] = torch.cuda.get_device_name(device)
    return figures
