"""The DSP separator on a short multitrack rendered here (FluidSynth), scored with museval."""

from __future__ import annotations

import librosa
import museval
import numpy as np
import pytest

from beatflow_audio import soundfont
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.dsp import DspSeparator
from bench.corpus import multitrack

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="FluidSynth or the GM soundfont is missing")

# 6 s of a chorale that is not in the bench set, with a rock kit.
RECIPE = multitrack.Recipe("bach/bwv26.6", 96, "rock", seconds=6.0)
# Separation must beat doing nothing by this much on every stem (doing nothing scores -3 to -8 dB here).
MARGIN_DB = 3.0


def separate(samples: np.ndarray, rate: int, progress=lambda *_: None) -> dict[str, np.ndarray]:
    return DspSeparator().separate(samples, rate, SeparationOptions(), progress).stems


def sdr(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    return float(np.nanmedian(museval.evaluate(reference[None], estimate[None], win=rate, hop=rate)[0]))


@pytest.fixture(scope="module")
def song() -> dict[str, np.ndarray]:
    return multitrack.render(RECIPE)


@pytest.fixture(scope="module")
def mixture(song) -> np.ndarray:
    return sum(song[name] for name in multitrack.STEMS)


@pytest.fixture(scope="module")
def stems(mixture) -> dict[str, np.ndarray]:
    return separate(mixture, multitrack.RATE)


def test_stems_sum_back_to_the_mixture(mixture, stems):
    assert set(stems) == set(multitrack.STEMS)
    assert all(stem.shape == mixture.shape and stem.dtype == np.float32 for stem in stems.values())
    np.testing.assert_allclose(sum(stems.values()), mixture, atol=1e-5)


@pytest.mark.parametrize("name", multitrack.STEMS)
def test_each_stem_beats_doing_nothing(name, song, mixture, stems):
    rate = multitrack.RATE
    assert sdr(song[name], stems[name], rate) > sdr(song[name], mixture, rate) + MARGIN_DB


def test_drums_beat_plain_hpss(song, mixture, stems):
    rate = multitrack.RATE
    percussive = np.stack([librosa.effects.percussive(mixture[:, c]) for c in range(2)], axis=1)
    assert sdr(song["drums"], stems["drums"], rate) > sdr(song["drums"], percussive, rate)


def test_mono_input_gives_mono_stems_like_the_stereo_ones(mixture, stems):
    mono = mixture.mean(axis=1, keepdims=True)
    separated = separate(mono, multitrack.RATE)
    for name, stem in separated.items():
        assert stem.shape == mono.shape
        # The masks come from the mono mix in both cases, so mono stems are the stereo ones averaged.
        np.testing.assert_allclose(stem[:, 0], stems[name].mean(axis=1), atol=1e-4)


def test_silence_gives_silence():
    silence = np.zeros((22050 * 2, 2), dtype=np.float32)
    for stem in separate(silence, 22050).values():
        assert stem.shape == silence.shape and not np.any(stem)


def test_progress_runs_from_masks_to_done(mixture):
    reports = []
    separate(
        mixture[: multitrack.RATE * 2], multitrack.RATE, lambda fraction, stage, _: reports.append((fraction, stage))
    )
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert reports[0][1] == "masks" and reports[-1][1] == "done"
