"""The GPU MusicGen bench's model building and timing, on CPU with the tests' tiny random MusicGen."""

from __future__ import annotations

import pytest
import torch
from transformers import MusicgenConfig

from bench import __main__ as bench_main
from bench import musicgen_gpu
from tests.generator import tiny_musicgen


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> MusicgenConfig:
    return MusicgenConfig.from_pretrained(tiny_musicgen.build(tmp_path_factory.mktemp("musicgen")))


@pytest.mark.parametrize(
    ("size", "hidden", "layers", "heads", "millions"),
    [("small", 1024, 24, 16, (550, 650)), ("medium", 1536, 48, 24, (1800, 2200))],
)
def test_released_config_has_the_released_dimensions(size, hidden, layers, heads, millions):
    config = musicgen_gpu.released_config(size)
    decoder = config.decoder
    assert (decoder.hidden_size, decoder.num_hidden_layers, decoder.num_attention_heads) == (hidden, layers, heads)
    assert (decoder.num_codebooks, decoder.vocab_size) == (4, 2048)
    assert (config.text_encoder.d_model, config.text_encoder.num_layers) == (768, 12)
    assert config.audio_encoder.sampling_rate == 32000
    assert config.audio_encoder.frame_rate == 50
    assert config.audio_encoder.num_quantizers == 4
    assert millions[0] < musicgen_gpu.parameter_count(config) / 1e6 < millions[1]


def test_parameter_count_matches_the_built_model(tiny_config):
    model = musicgen_gpu.build(tiny_config, torch.device("cpu"), torch.float32)
    assert musicgen_gpu.parameter_count(tiny_config) == sum(parameter.numel() for parameter in model.parameters())


def test_build_casts_to_the_requested_precision(tiny_config):
    model = musicgen_gpu.build(tiny_config, torch.device("cpu"), torch.float16)
    assert {parameter.dtype for parameter in model.parameters()} == {torch.float16}
    assert not model.training


def test_realtime_factor_times_generation_of_a_batch(tiny_config):
    model = musicgen_gpu.build(tiny_config, torch.device("cpu"), torch.float32)
    # The tiny codec makes 100 frames/s: 0.06 s is 6 frames, plus 4 for the codebook delay.
    factor = musicgen_gpu.realtime_factor(model, batch=2, seconds=0.06)
    assert 0 < factor < float("inf")


def test_run_refuses_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="no CUDA device"):
        musicgen_gpu.run()


def test_runs_only_when_named():
    assert "musicgen_gpu" in bench_main.available_areas()
    assert "musicgen_gpu" not in bench_main.default_areas()
