"""Integrated loudness (ITU-R BS.1770) of files of any channel count, surround included."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest

from beatflow_audio.analysis import analyse, integrated_loudness

RATE = 48000


def _music(seconds: float = 6.0) -> np.ndarray:
    """A chord with a pulse and some noise, stereo, about -20 dBFS."""
    t = np.arange(int(seconds * RATE)) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    pulse = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 2 * t))
    noise = np.random.default_rng(0).normal(0, 0.05, (len(t), 2))
    return 0.15 * (chord * pulse)[:, None] + noise


def _surround(channels: int, placed: dict[int, np.ndarray], frames: int) -> np.ndarray:
    samples = np.zeros((frames, channels))
    for channel, signal in placed.items():
        samples[:, channel] = signal
    return samples


def test_a_five_one_file_is_measured_without_its_lfe():
    music = _music()
    rumble = 0.8 * np.sin(2 * np.pi * 50 * np.arange(len(music)) / RATE)
    stereo_in_five_one = _surround(6, {0: music[:, 0], 1: music[:, 1]}, len(music))
    with_lfe = _surround(6, {0: music[:, 0], 1: music[:, 1], 3: rumble}, len(music))
    expected = pyloudnorm.Meter(RATE).integrated_loudness(music)  # BS.1770: silent channels add nothing
    assert integrated_loudness(stereo_in_five_one, RATE) == pytest.approx(expected, abs=0.01)
    assert integrated_loudness(with_lfe, RATE) == pytest.approx(expected, abs=0.01)


def test_surround_channels_weigh_one_and_a_half_decibels_more_than_front_ones():
    mono = _music()[:, 0]
    front = integrated_loudness(_surround(6, {0: mono}, len(mono)), RATE)
    surround = integrated_loudness(_surround(6, {4: mono}, len(mono)), RATE)  # Ls in the WAV order of 5.1
    assert surround - front == pytest.approx(10 * np.log10(1.41), abs=0.02)


def test_files_of_more_channels_are_analysed_on_their_five_one_bed():
    music = _music()
    seven_one = _surround(8, {0: music[:, 0], 1: music[:, 1], 6: music[:, 0], 7: music[:, 1]}, len(music))
    analysis = analyse(seven_one, RATE)
    assert analysis.channels == 8
    assert analysis.loudness_lufs == pytest.approx(pyloudnorm.Meter(RATE).integrated_loudness(music), abs=0.01)


def test_too_short_for_one_block_is_minus_infinity():
    assert integrated_loudness(_music(0.3), RATE) == float("-inf")
