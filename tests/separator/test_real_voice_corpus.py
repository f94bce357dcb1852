"""The bench's real-voice mixes: recorded speakers (Debian ktuberling-data) strung into a centred line
over a render's accompaniment, the mixture still the exact sum of the stems."""

from __future__ import annotations

import numpy as np
import pytest

from bench.corpus import multitrack

pytestmark = pytest.mark.skipif(not multitrack.SPOKEN_WORDS.is_dir(), reason="apt-get install ktuberling-data")

RATE = multitrack.RATE


def test_a_spoken_line_is_centred_words_with_pauses():
    frames = 8 * RATE
    line = multitrack.spoken_line(multitrack.SPOKEN_WORDS / "en", frames, RATE, np.random.default_rng(1))
    assert line.shape == (frames, 2) and line.dtype == np.float32
    np.testing.assert_array_equal(line[:, 0], line[:, 1])
    loud = np.abs(line[:, 0]) > 1e-3
    active = np.convolve(loud, np.ones(RATE // 20), mode="same") > 0  # within 25 ms of sound
    assert 0.5 < active.mean() < 0.98  # mostly speech, with pauses between the words
    starts = np.flatnonzero(np.diff(active.astype(int)) == 1)
    assert len(starts) >= 4  # several words, not one recording


def test_the_voice_replaces_the_vocals_at_their_level_and_the_mix_is_their_sum():
    rng = np.random.default_rng(2)
    frames = 4 * RATE
    backing = multitrack.Excerpt(
        "noise",
        "tune",
        RATE,
        {name: (0.05 * rng.standard_normal((frames, 2))).astype(np.float32) for name in multitrack.STEMS},
    )
    voice = multitrack.spoken_line(multitrack.SPOKEN_WORDS / "de", frames, RATE, rng)
    mixed = multitrack.with_vocals(backing, "voice-over-noise", "tune", voice)
    assert np.abs(mixed.mixture).max() == pytest.approx(0.9, rel=1e-4)
    rms = {name: np.sqrt(np.mean(audio**2)) for name, audio in mixed.stems.items()}
    assert rms["vocals"] == pytest.approx(rms["drums"], rel=0.1)  # the old vocals had the drums' level
    gain = float(np.dot(mixed.stems["vocals"][:, 0], voice[:, 0]) / np.dot(voice[:, 0], voice[:, 0]))
    np.testing.assert_allclose(mixed.stems["vocals"], gain * voice, atol=1e-6)  # the voice itself, scaled
    np.testing.assert_allclose(sum(mixed.stems.values()), mixed.mixture, atol=1e-6)
