"""The DSP separation engine on real audio (Demucs: test_demucs_*.py)."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio.theory import Key
from beatflow_generator.engines.procedural.engine import ProceduralEngine
from beatflow_generator.spec import GenerationSpec
from beatflow_separator.engines.base import SeparationOptions
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
