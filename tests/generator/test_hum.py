"""Hum-to-beat transcription on synthesized singing with known notes."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio import codec
from beatflow_audio.theory import Key, midi_to_hz
from beatflow_generator.hum import transcribe
from beatflow_generator.spec import GenerationSpec
from beatflow_platform.errors import InvalidArgument

RATE = 22050


def sung(notes: list[int], seconds_each: float, *, gap: float = 0.04, lead_in: float = 0.3) -> bytes:
    """A hummed line: harmonics, vibrato, breath noise and short gaps between notes."""
    rng = np.random.default_rng(3)
    pieces = [np.zeros(int(lead_in * RATE))]
    for note in notes:
        t = np.arange(int((seconds_each - gap) * RATE)) / RATE
        frequency = midi_to_hz(note) * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))
        phase = 2 * np.pi * np.cumsum(frequency) / RATE
        voice = np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
        envelope = np.minimum(1, t / 0.03) * np.minimum(1, (t[-1] - t) / 0.03)
        pieces += [0.2 * voice * envelope + 0.003 * rng.standard_normal(len(t)), np.zeros(int(gap * RATE))]
    return codec.encode(np.concatenate(pieces).astype(np.float32), RATE, "WAV")


def spec(key: str | None = "C major", bpm: int = 120, duration: float = 8.0) -> GenerationSpec:
    return GenerationSpec(
        prompt="",
        bpm=bpm,
        mood="",
        duration_seconds=duration,
        key=Key.parse(key) if key else None,
        engine="procedural",
        seed=1,
    )


TUNE = [60, 62, 64, 67, 64, 62, 60, 55]  # C D E G E D C G(3): a quarter note each at 120 bpm


def test_transcribes_the_notes_on_the_beat_grid():
    melody = transcribe(sung(TUNE, 0.5), spec(duration=4.0), max_seconds=60)
    assert [note.pitch for note in melody.notes] == TUNE
    assert [note.start for note in melody.notes] == pytest.approx([0.5 * i for i in range(8)])
    assert (melody.bpm, melody.key.name) == (120, "C major")


def test_phrase_repeats_to_fill_the_duration():
    melody = transcribe(sung(TUNE, 0.5), spec(duration=10.0), max_seconds=60)
    assert [note.pitch for note in melody.notes] == TUNE * 2 + TUNE[:4]  # 4 s phrase: 0-4, 4-8, then 8-10 s
    assert melody.notes[8].start == pytest.approx(4.0)


def test_key_comes_from_the_notes_when_not_given():
    a_minor_line = [69, 71, 72, 74, 76, 72, 71, 69, 68, 69]
    melody = transcribe(sung(a_minor_line, 0.5), spec(key=None, duration=5.0), max_seconds=60)
    assert melody.key.name == "A minor"


def test_singing_an_octave_low_moves_into_the_melody_range():
    melody = transcribe(sung([n - 12 for n in TUNE], 0.5), spec(duration=4.0), max_seconds=60)
    assert [note.pitch for note in melody.notes] == TUNE


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (codec.encode(np.zeros(RATE * 2, dtype=np.float32), RATE, "WAV"), "SILENT_HUM"),
        (
            codec.encode(0.3 * np.random.default_rng(1).standard_normal(RATE * 2).astype(np.float32), RATE, "WAV"),
            "NO_MELODY",
        ),
        (b"not audio at all", "NOT_AUDIO"),
    ],
    ids=["silence", "noise", "garbage"],
)
def test_recordings_without_a_melody_are_refused(data, reason):
    with pytest.raises(InvalidArgument) as caught:
        transcribe(data, spec(), max_seconds=60)
    assert caught.value.reason == reason


def test_too_long_recordings_are_refused():
    with pytest.raises(InvalidArgument) as caught:
        transcribe(sung(TUNE, 0.5), spec(), max_seconds=2)
    assert caught.value.reason == "HUM_TOO_LONG"
