"""The DSP separator's kick split: a kick drum's body below ~150 Hz holds still long enough to look tonal,
and went to the bass stem before the tonal pass learnt to tell it apart (a power kit's kick: 65 % of it)."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from beatflow_audio import soundfont
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.dsp import DspSeparator

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="FluidSynth or the GM soundfont is missing")

RATE = 44100
SECONDS = 6
POWER_KIT = 16  # GM drum kit program: a long, boomy kick
KICK_NOTE = 36
FINGER_BASS = 33


def _render(notes: list[tuple[int, float, float]], program: int, is_drum: bool) -> np.ndarray:
    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
    instrument.notes = [pretty_midi.Note(100, pitch, start, end) for pitch, start, end in notes]
    midi.instruments.append(instrument)
    audio = soundfont.render(midi, RATE)[: SECONDS * RATE]
    return np.pad(audio, ((0, SECONDS * RATE - len(audio)), (0, 0)))


def _carried(stem: np.ndarray, source: np.ndarray) -> float:
    """How much of `source` the stem carries: its projection on the source."""
    return float(np.sum(stem * source) / np.sum(source**2))


@pytest.fixture(scope="module")
def parts() -> dict[str, np.ndarray]:
    kick = 2 * _render([(KICK_NOTE, t, t + 0.1) for t in np.arange(0, SECONDS, 0.5)], POWER_KIT, True)
    line = zip((40, 43, 45, 38, 40, 47), range(SECONDS), strict=True)
    bass = _render([(pitch, start, start + 0.9) for pitch, start in line], FINGER_BASS, False)
    return {"kick": kick, "bass": bass}


@pytest.fixture(scope="module")
def stems(parts) -> dict[str, np.ndarray]:
    mixture = parts["kick"] + parts["bass"]
    return DspSeparator().separate(mixture, RATE, SeparationOptions(), lambda *_: None).stems


def test_the_kick_is_heard_as_drums_not_bass(parts, stems):
    assert _carried(stems["drums"], parts["kick"]) > 0.75
    assert _carried(stems["bass"], parts["kick"]) < 0.15


def test_the_bass_line_stays_bass(parts, stems):
    assert _carried(stems["bass"], parts["bass"]) > 0.4
    assert _carried(stems["bass"], parts["bass"]) > _carried(stems["drums"], parts["bass"]) + 0.1
