"""The lead voice's cues weighed as evidence (`dsp_masks.evidence`) rather than multiplied: cues that agree
outvote one that does not, and no cue of exactly 0 or 1 makes the mask undefined."""

from __future__ import annotations

import itertools

import numpy as np

from beatflow_separator.engines import dsp_masks
from beatflow_separator.engines.dsp import LEAD_BIAS, LEAD_CENTRE_WEIGHT, LEAD_FOREGROUND_WEIGHT, LEAD_HARMONIC_WEIGHT


def lead(harmonic: float, foreground: float, centre: float) -> float:
    cues = [np.array([value], dtype=np.float32) for value in (harmonic, foreground, centre)]
    weights = (LEAD_HARMONIC_WEIGHT, LEAD_FOREGROUND_WEIGHT, LEAD_CENTRE_WEIGHT)
    return float(dsp_masks.evidence(LEAD_BIAS, *zip(cues, weights, strict=True))[0])


def test_an_even_cue_with_no_bias_and_unit_weight_is_an_even_mask():
    assert dsp_masks.evidence(0.0, (np.array([0.5]), 1.0))[0] == 0.5
    one_cue = dsp_masks.evidence(0.0, (np.array([0.1, 0.7, 0.9]), 1.0))
    np.testing.assert_allclose(one_cue, [0.1, 0.7, 0.9], rtol=1e-5)


def test_cues_that_agree_outvote_a_weak_one():
    """A sung partial with vibrato: clearly centred and in the foreground, but only half as steady as a held
    note. The product of the cues (the centre cubed) would halve it; the evidence keeps most of it."""
    product = 0.5 * 0.99 * 0.99**3
    assert lead(0.5, 0.99, 0.99) > 0.7
    assert lead(0.5, 0.99, 0.99) > 1.4 * product


def test_each_cue_counts_and_the_mask_rises_with_it():
    values = np.linspace(0.05, 0.95, 7)
    for position in range(3):
        masks = [lead(*[value if index == position else 0.9 for index in range(3)]) for value in values]
        assert all(later > earlier for earlier, later in itertools.pairwise(masks)), position


def test_an_accompaniment_partial_that_no_cue_marks_stays_out():
    """Steady, but in the background and panned aside: not the lead."""
    assert lead(0.95, 0.1, 0.1) < 0.02


def test_cues_of_exactly_zero_or_one_give_a_finite_mask():
    first = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    second = np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    mask = dsp_masks.evidence(0.0, (first, 1.0), (second, 0.5))
    assert mask.shape == (2, 2) and mask.dtype == np.float32
    assert np.all(np.isfinite(mask)) and np.all((mask >= 0) & (mask <= 1))
    assert mask[0, 0] < 1e-6 and mask[1, 0] > 1 - 1e-6  # both cues certain, one way or the other
    assert 0.99 < mask[0, 1] < 1 and 0 < mask[1, 1] < 0.01  # certain cues that disagree: the heavier one wins
