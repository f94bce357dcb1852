"""A tiny MusicGen with random weights, saved in the same layout real weights use.

T5 text encoder, EnCodec audio codec (16 kHz, 100 frames/s, 4 codebooks) and decoder of one
layer each; the tokenizer is built from an in-memory vocabulary. Nothing is downloaded.
"""

from __future__ import annotations

import string
from pathlib import Path

WORDS = ["lofi", "hip", "hop", "beat", "piano", "drums", "dark", "happy", "bpm", "minor", "major", "mood"]


def build(directory: Path) -> Path:
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
        T5Tokenizer,
    )

    torch.manual_seed(0)
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [("▁" + word, -1.0) for word in WORDS]
    pieces += [(char, -2.0) for char in string.ascii_lowercase + string.digits + ",#"]
    tokenizer = T5Tokenizer(vocab=pieces)
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=1, sampling_rate=16000), tokenizer=tokenizer
    )
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
    decoder = MusicgenDecoderConfig(
        vocab_size=32,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        num_codebooks=audio.num_quantizers,
        audio_channels=1,
        pad_token_id=32,
        bos_token_id=32,
        max_position_embeddings=8192,
    )
    model = MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder))
    # EnCodec's codebooks are buffers that start as zeros (real weights fill them): give them
    # random vectors too, or every code would decode to the same audio.
    with torch.no_grad():
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
    model.generation_config.decoder_start_token_id = 32
    model.generation_config.pad_token_id = 32
    model.generation_config.max_length = 8192
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
