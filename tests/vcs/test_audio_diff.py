"""The musical diff's algorithm on rendered audio: edits found where they are, re-encodings found nowhere."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from beatflow_audio import codec, soundfont
from beatflow_vcs.audio_diff import changed_ranges
from tests.vcs import audio_edits
from tests.vcs.audio_edits import RATE

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="FluidSynth or its soundfont is missing")

BPM = 100.0
BAR = 4 * 60.0 / BPM


@pytest.fixture(scope="module")
def take():
    midi = audio_edits.random_part(np.random.default_rng(7), program=0, bars=10, bpm=BPM)
    return midi, audio_edits.render(midi)


def head_spans(ranges) -> list[tuple[float, float]]:
    return [(r.head_start, r.head_end) for r in ranges]


def diff(base, head, rate=RATE):
    return changed_ranges(base, RATE, head, rate, base_bpm=BPM, head_bpm=BPM)


def reencoded(audio: np.ndarray, how: str) -> tuple[np.ndarray, int]:
    if how == "flac":
        return codec.decode(codec.encode(audio, RATE, "FLAC"))
    if how == "48k":
        return soxr.resample(audio, RATE, 48000), 48000
    rng = np.random.default_rng(1)  # TPDF dither at 16-bit level
    lsb = 1 / 32768
    return audio + (rng.uniform(-lsb, lsb, audio.shape) + rng.uniform(-lsb, lsb, audio.shape)).astype(np.float32), RATE


@pytest.mark.parametrize("how", ["flac", "48k", "dither"])
def test_the_same_audio_reencoded_is_no_change(take, how):
    _, audio = take
    wav, _ = codec.decode(codec.encode(audio, RATE, "WAV"))
    other, rate = reencoded(audio, how)
    assert not changed_ranges(wav, RATE, other, rate, base_bpm=BPM, head_bpm=BPM)


@pytest.mark.parametrize("edit", ["replace", "mute", "shift"])
def test_edited_bars_are_the_one_changed_range(take, edit):
    midi, audio = take
    start, end = 3 * BAR, 5 * BAR
    if edit == "shift":
        edited, truth = audio_edits.shift(midi, start, end, by=0.3)
    else:
        edited, truth = getattr(audio_edits, edit)(midi, start, end)
    ranges = diff(audio, audio_edits.render(edited))
    assert len(ranges) == 1 and ranges[0].kind == "modified"
    assert audio_edits.iou(head_spans(ranges), truth) >= 0.9
    assert (ranges[0].base_start, ranges[0].base_end) == (ranges[0].head_start, ranges[0].head_end)
    if edit == "mute":
        assert ranges[0].loudness_change_db < -30


def test_a_range_starting_on_a_beat_is_snapped_to_it(take):
    midi, audio = take
    edited, _ = audio_edits.replace(midi, 2 * BAR, 4 * BAR)
    (changed,) = diff(audio, audio_edits.render(edited))
    beats = changed.head_start / (60.0 / BPM)
    assert beats == pytest.approx(round(beats), abs=1e-6)
    assert abs(changed.head_start - 2 * BAR) <= 0.05


@pytest.mark.parametrize("gain_db", [-6.0, 3.0])
def test_a_level_change_is_found_with_its_size(take, gain_db):
    _, audio = take
    start, end = 4 * BAR, 6 * BAR
    (changed,) = diff(audio, audio_edits.level(audio, start, end, gain_db))
    assert audio_edits.iou([(changed.head_start, changed.head_end)], (start, end)) >= 0.95
    assert changed.loudness_change_db == pytest.approx(gain_db, abs=0.3)


def test_inserted_bars_are_reported_as_inserted_not_as_the_rest_changed(take):
    midi, audio = take
    material = audio_edits.random_part(np.random.default_rng(99), program=0, bars=2, bpm=BPM)
    edited, truth = audio_edits.insert(midi, 4 * BAR, material, 2 * BAR)
    ranges = diff(audio, audio_edits.render(edited))
    inserted = [r for r in ranges if r.kind == "inserted"]
    assert len(inserted) == 1 and inserted[0].base_start == pytest.approx(truth[0], abs=0.05)
    assert audio_edits.iou(head_spans(inserted), truth) >= 0.9
    # The inserted notes' release over the following note may differ; the shifted rest does not.
    assert max(r.head_end for r in ranges) <= truth[1] + 0.5


def test_deleted_bars_are_reported_as_deleted(take):
    _, audio = take
    cut_start, cut_end = int(5 * BAR * RATE), int(7 * BAR * RATE)
    head = np.concatenate([audio[:cut_start], audio[cut_end:]])
    ranges = diff(audio, head)
    assert len(ranges) == 1 and ranges[0].kind == "deleted"
    assert ranges[0].head_start == ranges[0].head_end == pytest.approx(5 * BAR, abs=0.05)
    assert (ranges[0].base_start, ranges[0].base_end) == pytest.approx((5 * BAR, 7 * BAR), abs=0.05)


def test_silence_against_sound_is_one_range_per_side():
    rate = 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate)).astype(np.float32)
    silent = np.zeros_like(tone)
    (changed,) = changed_ranges(silent, rate, tone, rate)
    assert (changed.head_start, changed.head_end) == pytest.approx((0.0, 3.0), abs=0.05)
    assert changed.loudness_change_db > 80
