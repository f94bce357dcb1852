"""The DSP separator on a short multitrack rendered here (FluidSynth), scored with museval; its blocks
for long input against whole-track output."""

from __future__ import annotations

import itertools

import librosa
import museval
import numpy as np
import pytest

from beatflow_audio import soundfont
from beatflow_separator.engines import dsp_blocks
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.dsp import DspSeparator, separate_window
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
def mixture(song: dict[str, np.ndarray]) -> np.ndarray:
    return sum((song[name] for name in multitrack.STEMS), np.zeros_like(song["vocals"]))


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


def test_mono_input_gives_mono_stems_that_sum_back(mixture):
    mono = mixture.mean(axis=1, keepdims=True)
    separated = separate(mono, multitrack.RATE)
    assert all(stem.shape == mono.shape for stem in separated.values())
    np.testing.assert_allclose(sum(separated.values()), mono, atol=1e-5)


def test_a_centred_voice_is_heard_as_vocals_far_more_than_one_panned_aside(song):
    """Lead vocals are mixed to the centre: the same voice hard left is not the lead (the stereo cue). It is
    twice as loud on the left, so the mono mix hears it as loud as the centred one. Measured as how much of
    the voice the vocals stem carries (its projection on the voice): 0.15 centred, 0.02 aside (0.11 and
    0.002 when the lead's cues were multiplied rather than weighed as evidence)."""
    rate = multitrack.RATE
    accompaniment = sum(song[name] for name in ("drums", "bass", "other"))
    voice = song["vocals"].mean(axis=1)
    aside = np.stack([2 * voice, np.zeros_like(voice)], axis=1)

    def carried(placed: np.ndarray) -> float:
        vocals = separate(accompaniment + placed, rate)["vocals"]
        return float(np.sum(vocals * placed) / np.sum(placed**2))

    centred, panned = carried(song["vocals"]), carried(aside)
    assert centred > 0.13 and centred > 5 * panned


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


def test_blocks_tile_the_track_each_inside_its_window():
    for frames in (1, 44100 * 20, 44100 * 44, 44100 * 46, 44100 * 600 + 7):
        plan = dsp_blocks.BlockPlan.of(frames, 44100, 8192)
        cores = [plan.core(index) for index in range(plan.count)]
        assert cores[0][0] == 0 and cores[-1][1] == frames
        assert all(stop == start for (_, stop), (start, _) in itertools.pairwise(cores))
        assert all(stop - start >= plan.block / 2 for start, stop in cores[1:])
        for index, (start, stop) in enumerate(cores):
            window_start, window_stop = plan.window(index)
            assert window_start == max(0, start - plan.context) and window_stop == min(frames, stop + plan.context)
            assert window_start % 8192 == 0
    assert dsp_blocks.BlockPlan.of(44100 * 44, 44100, 8192).count == 1  # a short remainder joins the last block


def test_blockwise_output_matches_whole_track_output_at_the_joins(monkeypatch, mixture):
    """2 s blocks on the 6 s song (three blocks, two joins) against the passes on the whole track at once."""
    monkeypatch.setattr(dsp_blocks, "BLOCK_SECONDS", 2.0)
    rate = multitrack.RATE
    reports = []
    blockwise = separate(mixture, rate, lambda fraction, stage, message: reports.append(message))
    assert [message for message in reports if message.startswith("block")] == ["block 1/3", "block 2/3", "block 3/3"]
    whole = separate_window(mixture, rate)
    np.testing.assert_allclose(sum(blockwise.values()), mixture, atol=1e-5)
    plan = dsp_blocks.BlockPlan.of(len(mixture), rate, 8192)
    for join in (plan.core(1)[0], plan.core(2)[0]):
        around = slice(join - rate // 2, join + rate // 2)
        for name, stem in whole.items():
            error = blockwise[name][around] - stem[around]
            assert 10 * np.log10(np.sum(stem[around] ** 2) / np.sum(error**2)) > 60, (name, join)
