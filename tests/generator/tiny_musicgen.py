"""A tiny MusicGen with random weights, saved in the same layout real weights use.

T5 text encoder, EnCodec audio codec (16 kHz, 100 frames/s, 4 codebooks) and decoder of one
layer each; the tokenizer is built from an in-memory vocabulary. Nothing is downloaded.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

WORDS = ["lofi", "hip", "hop", "beat", "piano", "drums", "dark", "happy", "bpm", "minor", "major", "mood"]


def _parts():
    """Tokenizer and the configs of text encoder and audio codec that both tiny models share."""
    from transformers import EncodecConfig, T5Config, T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("▁" + word, -1.0) for word in WORDS]
    pieces += [(char, -2.0) for char in string.ascii_lowercase + string.digits + ",#"]
    text = T5Config(
        vocab_size=len(pieces),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    audio = EncodecConfig(
        sampling_rate=16000,
        audio_channels=1,
        hidden_size=16,
        num_filters=4,
        num_residual_layers=1,
        upsampling_ratios=[8, 5, 4],
        codebook_size=32,
        codebook_dim=16,
        target_bandwidths=[2.0],
        num_lstm_layers=1,
    )
    return T5Tokenizer(vocab=pieces), text, audio


def _decoder_options(audio) -> dict:
    """A one-layer decoder over the codec's codebooks; 32 (one past the codes) pads and starts."""
    return {
        "vocab_size": 32,
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "ffn_dim": 32,
        "num_codebooks": audio.num_quantizers,
        "audio_channels": 1,
        "pad_token_id": 32,
        "bos_token_id": 32,
        "max_position_embeddings": 8192,
    }


def _randomise_codebooks(model) -> None:
    """EnCodec's codebooks are buffers that start as zeros (real weights fill them): give them
    random vectors too, or every code would decode to the same audio."""
    import torch

    with torch.no_grad():
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
    model.generation_config.decoder_start_token_id = 32
    model.generation_config.pad_token_id = 32
    model.generation_config.max_length = 8192


def build(directory: Path) -> Path:
    import torch
    from transformers import (
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
    )

    torch.manual_seed(0)
    tokenizer, text, audio = _parts()
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=16000), tokenizer=tokenizer
    )
    decoder = MusicgenDecoderConfig(**_decoder_options(audio))
    model = MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder))
    _randomise_codebooks(model)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def build_melody(directory: Path) -> Path:
    """A tiny MusicGen-Melody; its preprocessor_config.json is written as the real one is laid out
    (the feature extractor class itself needs torchaudio, which the project does not install)."""
    import torch
    from transformers import (
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
    )

    torch.manual_seed(1)
    tokenizer, text, audio = _parts()
    decoder = MusicgenMelodyDecoderConfig(**_decoder_options(audio))
    config = MusicgenMelodyConfig(
        text_encoder=text, audio_encoder=audio, decoder=decoder, num_chroma=12, chroma_length=64
    )
    model = MusicgenMelodyForConditionalGeneration(config)
    _randomise_codebooks(model)
    # At the default 0.02 init the logits are nearly flat and sampling barely notices the
    # conditioning; larger weights on the chroma path and the heads make it audible.
    with torch.no_grad():
        model.audio_enc_to_dec_proj.weight.normal_(std=2.0)
        for name, parameter in model.decoder.named_parameters():
            if parameter.dim() == 2 and "embed_tokens" not in name:
                parameter.normal_(std=1.0)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    features = {
        "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
        "processor_class": "MusicgenMelodyProcessor",
        "sampling_rate": 16000,
        "n_fft": 2048,
        "hop_length": 512,
        "num_chroma": 12,
        "chunk_length": 30,
        "feature_size": 12,
        "padding_value": 0.0,
        "return_attention_mask": False,
        "stem_indices": [3, 2],
    }
    (directory / "preprocessor_config.json").write_text(json.dumps(features, indent=2))
    return directory
