"""The MusicGen engine's real loading and inference code on a tiny random-weight model."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from beatflow_audio.theory import Key
from beatflow_generator.engines.base import SourceAudio
from beatflow_generator.engines.musicgen import MusicgenEngine, describe
from beatflow_generator.engines.registry import Engines
from beatflow_generator.spec import CONTINUE, REPAINT, GenerationSpec, Operation, derive
from beatflow_platform.errors import FailedPrecondition
from beatflow_platform.jobs.model import JobCancelled


@pytest.fixture(scope="session")
def engine(musicgen_weights):
    engine = MusicgenEngine(musicgen_weights, window_seconds=1.5, context_seconds=0.5)
    engine.load()
    return engine


def spec(duration=1.0, seed=3, **fields) -> GenerationSpec:
    values = {
        "prompt": "lofi hip hop beat",
        "bpm": 90,
        "mood": "dark",
        "duration_seconds": duration,
        "key": Key.parse("A minor"),
        "engine": "musicgen",
        "seed": seed,
    }
    return GenerationSpec(**{**values, **fields})


def test_unconfigured_engine_is_a_failed_precondition():
    engines = Engines([MusicgenEngine(None)])
    with pytest.raises(FailedPrecondition, match="MUSICGEN_MODEL_DIR"):
        engines.ready("musicgen")


def test_missing_weights_fail_to_load_without_network(tmp_path):
    with pytest.raises(FileNotFoundError):
        MusicgenEngine(tmp_path / "facebook" / "musicgen-small").load()


def test_renders_the_requested_length_deterministically(engine):
    steps = []
    first = engine.render(spec(), lambda fraction, stage, message: steps.append(fraction))
    again = engine.render(spec(), lambda *_: None)
    other = engine.render(spec(seed=4), lambda *_: None)
    mix = first.stems["mix"]
    assert list(first.stems) == ["mix"] and first.sample_rate == 16000
    assert mix.shape == (16000, 2) and mix.dtype == np.float32
    assert np.abs(mix).max() <= 0.9
    np.testing.assert_array_equal(mix, again.stems["mix"])
    assert not np.array_equal(mix, other.stems["mix"])
    assert steps == sorted(steps) and len(steps) >= 100  # one report per token step (100 frames/s)


def test_longer_pieces_continue_window_by_window(engine):
    stages = []
    rendering = engine.render(spec(duration=4.0), lambda fraction, stage, message: stages.append(stage))
    assert rendering.stems["mix"].shape == (64000, 2)
    # 1.5 s windows with 0.5 s of context: 1.5 + 1 + 1 + 0.5 s of new audio, 100 token steps a second,
    # plus the 4 frames the codebook delay pattern costs in each of the 4 windows.
    assert 400 <= stages.count("generating") <= 400 + 4 * 4
    assert stages[-1] == "measuring"


def test_cancellation_stops_generation(engine):
    def progress(fraction, stage, message):
        if fraction > 0.2:
            raise JobCancelled("job-1")

    with pytest.raises(JobCancelled):
        engine.render(spec(duration=3.0), progress)


def test_sampling_parameters_are_used(engine):
    low = engine.render(spec(temperature=0.05, top_k=1), lambda *_: None).stems["mix"]
    high = engine.render(spec(temperature=3.0, top_p=0.9), lambda *_: None).stems["mix"]
    assert not np.array_equal(low, high)


def test_prompt_carries_the_requested_facts():
    assert describe(spec()) == "lofi hip hop beat, dark mood, 90 bpm, A minor"


def test_batch_renders_variations_in_one_pass(engine):
    specs = [
        spec(prompt=prompt, duration=duration, seed=seed)
        for seed, (prompt, duration) in enumerate((("lofi beat", 1.0), ("dark piano", 1.2), ("happy drums", 0.8)), 1)
    ]
    renderings = engine.render_batch(specs, lambda *_: None)
    assert [r.stems["mix"].shape[0] for r in renderings] == [16000, 19200, 12800]
    assert not np.array_equal(renderings[0].stems["mix"][:12800], renderings[2].stems["mix"])


def test_batch_items_draw_with_their_own_seeds(engine):
    """Item k of a batch is what its spec gives rendered alone, whatever else is in the batch: the
    same tokens (the codec decodes a batch with float sums in another order, so the last bits differ)."""
    specs = [
        spec(duration=0.3, seed=11),
        spec(duration=0.3, seed=12),
        spec(duration=0.3, prompt="dark piano", seed=13, temperature=0.7, top_p=0.9),
    ]
    batch = engine.render_batch(specs, lambda *_: None)
    for index in (0, 2):
        alone = engine.render(specs[index], lambda *_: None).stems["mix"]
        np.testing.assert_allclose(batch[index].stems["mix"], alone, atol=1e-5)
    assert not np.array_equal(batch[0].stems["mix"], batch[1].stems["mix"])


def test_continues_the_source_audio_by_bars(engine):
    rate = 22050
    source_mix = (0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate)).astype(np.float32)[:, None].repeat(2, 1)
    source = spec(duration=1.0, bpm=240)
    request = derive(source, Operation(CONTINUE, bars=1), seed=5)
    stages = []
    rendering = engine.render(
        request, lambda f, stage, m: stages.append(stage), source_audio=SourceAudio({"mix": source_mix}, rate)
    )
    mix = rendering.stems["mix"]
    assert rendering.sample_rate == 16000 and mix.shape == (16000 + 16000, 2)
    resampled = librosa.resample(source_mix.T, orig_sr=rate, target_sr=16000).T
    np.testing.assert_allclose(mix[:16000], resampled, atol=1e-6)
    assert np.abs(mix[16000:]).max() > 0
    assert rendering.report["join_seconds"] == 1.0 and rendering.report["bars_added"] == 1
    assert "generating" in stages


def test_other_operations_are_a_failed_precondition_naming_the_engine(engine):
    assert engine.operations == frozenset({CONTINUE})
    repaint = derive(spec(), Operation(REPAINT, start_seconds=0.0, end_seconds=0.5), seed=5)
    with pytest.raises(FailedPrecondition, match="'musicgen'"):
        engine.render(repaint, lambda *_: None)
    with pytest.raises(FailedPrecondition, match="source's audio"):
        engine.render(derive(spec(), Operation(CONTINUE, bars=1), seed=5), lambda *_: None)
