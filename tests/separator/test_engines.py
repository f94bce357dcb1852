"""Separation engines on real audio: the DSP default and Demucs from a local repo."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio.theory import Key
from beatflow_generator.engines.procedural.engine import ProceduralEngine
from beatflow_generator.spec import GenerationSpec
from beatflow_platform.errors import InvalidArgument
from beatflow_platform.jobs.model import JobCancelled
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.demucs_engine import DemucsSeparator
from beatflow_separator.engines.dsp import DspSeparator


@pytest.fixture(scope="module")
def song():
    spec = GenerationSpec(
        prompt="house", bpm=124, mood="", duration_seconds=8.0, key=Key.parse("F major"), engine="procedural", seed=3
    )
    return ProceduralEngine().render(spec, lambda *_: None)


def energy(samples: np.ndarray) -> float:
    return float(np.mean(samples**2))


def test_dsp_stems_sum_back_to_the_mixture(song):
    mix = song.stems["mix"]
    separation = DspSeparator().separate(mix, song.sample_rate, SeparationOptions(), lambda *_: None)
    assert set(separation.stems) == {"drums", "bass", "vocals", "other"}
    np.testing.assert_allclose(sum(separation.stems.values()), mix, atol=1e-5)


def test_dsp_stems_carry_their_instruments(song):
    separation = DspSeparator().separate(song.stems["mix"], song.sample_rate, SeparationOptions(), lambda *_: None)
    # Each estimate correlates best with its own ground-truth stem.
    for name in ("drums", "bass"):
        estimate = separation.stems[name].ravel()
        scores = {
            other: np.corrcoef(estimate, stem.ravel())[0, 1] for other, stem in song.stems.items() if other != "mix"
        }
        assert max(scores, key=scores.get) == name, scores


def test_dsp_handles_mono_and_reports_progress():
    rng = np.random.default_rng(0)
    mono = (0.1 * rng.standard_normal((22050 * 3, 1))).astype(np.float32)
    stages = []
    separation = DspSeparator().separate(mono, 22050, SeparationOptions(), lambda f, stage, m: stages.append(stage))
    assert separation.stems["drums"].shape == (22050 * 3, 1)
    assert stages[0] == "masks" and stages[-1] == "done"


@pytest.fixture(scope="module")
def demucs(demucs_weights):
    return DemucsSeparator(demucs_weights)


def test_demucs_loads_from_the_local_repo_and_separates(demucs, song):
    available, detail = demucs.available()
    assert available and "htdemucs" in detail
    steps = []
    separation = demucs.separate(
        song.stems["mix"], song.sample_rate, SeparationOptions(overlap=0.25, shifts=1), lambda f, s, m: steps.append(m)
    )
    assert set(separation.stems) == {"drums", "bass", "other", "vocals"}
    assert all(stem.shape == song.stems["mix"].shape for stem in separation.stems.values())
    assert steps[-1].endswith(f"{len(steps)}/{len(steps)} segments")
    assert demucs.model("htdemucs") is demucs.model("htdemucs"), "the model is loaded once"


def test_demucs_resamples_other_rates(demucs):
    samples = (0.1 * np.random.default_rng(1).standard_normal((16000 * 3, 1))).astype(np.float32)
    separation = demucs.separate(samples, 16000, SeparationOptions(), lambda *_: None)
    assert separation.sample_rate == 44100 and separation.stems["bass"].shape == (44100 * 3, 2)


def test_demucs_refuses_unknown_or_missing_models_and_stops_when_cancelled(demucs, song):
    with pytest.raises(InvalidArgument):
        demucs.model("umx")
    with pytest.raises(InvalidArgument):
        demucs.model("htdemucs_6s")

    def cancel(fraction, stage, message):
        raise JobCancelled("job")

    with pytest.raises(JobCancelled):
        demucs.separate(song.stems["mix"], song.sample_rate, SeparationOptions(), cancel)


def test_unconfigured_demucs_is_unavailable(tmp_path):
    assert not DemucsSeparator(None).available()[0]
    assert not DemucsSeparator(tmp_path).available()[0]
