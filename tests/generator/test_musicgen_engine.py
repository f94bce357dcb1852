"""The MusicGen engine's real loading and inference code on a tiny random-weight model."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio.theory import Key
from beatflow_generator.engines.musicgen import MusicgenEngine, describe
from beatflow_generator.engines.registry import Engines
from beatflow_generator.spec import GenerationSpec
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
        spec(prompt=prompt, duration=duration)
        for prompt, duration in (("lofi beat", 1.0), ("dark piano", 1.2), ("happy drums", 0.8))
    ]
    renderings = engine.render_batch(specs, lambda *_: None)
    assert [r.stems["mix"].shape[0] for r in renderings] == [16000, 19200, 12800]
    assert not np.array_equal(renderings[0].stems["mix"][:12800], renderings[2].stems["mix"])
