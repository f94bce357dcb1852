"""The DSP separator's lead voice below the bass cutoff: a man's voice has its fundamental under 250 Hz,
where the lead pass took nothing before (a third of a recorded speaker's energy lies there). A bin there is
voice as far as its 2nd and 3rd harmonics are in the lead's mask and no louder note sounds an octave below
it, so a bass line under the voice stays bass."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from beatflow_audio import soundfont
from beatflow_separator.engines import dsp_masks
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.dsp import BASS_CUTOFF_HZ, DspSeparator
from bench.corpus import multitrack

RATE = 44100
SECONDS = 6
FINGER_BASS = 33
# A baritone line (A2 to E3: fundamentals 110-165 Hz) over a bass line an octave and more below it.
VOICE_NOTES = [multitrack._Note(0.5 * i, 0.5 * i + 0.45, pitch) for i, pitch in enumerate([45, 47, 49, 50, 52] * 2)]
BASS_NOTES = [(pitch, 1.0 * i, 1.0 * i + 0.9) for i, pitch in enumerate([28, 33, 31, 26, 28, 33])]


def below_cutoff(audio: np.ndarray) -> np.ndarray:
    """The mono part of `audio` below the bass cutoff (an FFT brick wall: exact for scoring)."""
    spectrum = np.fft.rfft(audio.mean(axis=1))
    spectrum[np.fft.rfftfreq(len(audio), 1 / RATE) >= BASS_CUTOFF_HZ] = 0
    return np.fft.irfft(spectrum, len(audio))


def share_of(part: np.ndarray, source: np.ndarray) -> float:
    """How much of `source` the `part` holds: its projection on the source, over the source's energy."""
    return float(np.dot(part, source) / np.dot(source, source))


@pytest.fixture(scope="module")
def song() -> dict[str, np.ndarray]:
    frames = SECONDS * RATE
    voice = multitrack.sung_voice(VOICE_NOTES, RATE, np.random.default_rng(7))[:frames]
    midi = pretty_midi.PrettyMIDI()
    bass = pretty_midi.Instrument(program=FINGER_BASS)
    bass.notes = [pretty_midi.Note(100, pitch, start, end) for pitch, start, end in BASS_NOTES]
    midi.instruments.append(bass)
    line = soundfont.render(midi, RATE)[:frames]
    stems = {"vocals": voice, "bass": line}
    stems = {name: np.pad(audio, ((0, frames - len(audio)), (0, 0))) for name, audio in stems.items()}
    return {name: (0.3 * audio / np.abs(audio).max()).astype(np.float32) for name, audio in stems.items()}


@pytest.mark.skipif(not soundfont.available(), reason="FluidSynth or the GM soundfont is missing")
def test_a_low_voice_keeps_its_fundamental_and_the_bass_stays_bass(song):
    mixture = song["vocals"] + song["bass"]
    stems = DspSeparator().separate(mixture, RATE, SeparationOptions(), lambda *_: None).stems
    voice_low, bass_low = below_cutoff(song["vocals"]), below_cutoff(song["bass"])
    vocals_low = below_cutoff(stems["vocals"])
    # Measured: 0.13 of the voice's low part (0.07 when the lead pass stopped at the cutoff), 0.03 of the
    # bass's, and the bass stem keeps 0.66 of the bass (0.68 before).
    assert share_of(vocals_low, voice_low) > 0.1
    assert share_of(vocals_low, bass_low) < 0.1
    assert share_of(below_cutoff(stems["bass"]), bass_low) > 0.55


def test_harmonic_support_is_high_only_where_the_overtones_are_in_the_mask():
    bins, frames = 64, 4
    mask = np.zeros((200, frames), dtype=np.float32)
    mask[[20, 30]] = 1.0  # 2nd and 3rd harmonics of bin 10
    mask[[36]] = 1.0  # only the 2nd harmonic of bin 18
    support = dsp_masks.harmonic_support(mask, bins, (2, 3))
    assert support.shape == (bins, frames)
    assert np.all(support[10] > 0.99)
    assert np.all(support[18] < 1e-4)
    assert np.all(support[40] < 1e-4)
