"""Meter and bar phase, with and without drums, on pieces rendered with FluidSynth."""

from __future__ import annotations

import librosa
import numpy as np
import pretty_midi
import pytest

from beatflow_audio import soundfont
from beatflow_audio.bars import is_percussive
from beatflow_audio.rhythm import estimate_rhythm

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="FluidSynth and its soundfont are installed by setup")

RATE = 22050
# Two chords a bar, so a chord change alone cannot tell beat one from beat three.
CHORDS = [(60, 64, 67), (60, 65, 69), (57, 60, 64), (55, 59, 62)]
MELODY = [72, 74, 76, 77, 79, 77, 76, 74]


def _guitar_piece(bpm: float, bars: int, *, drums: bool) -> tuple[np.ndarray, np.ndarray]:
    """4/4 for guitar without bass: a melody note and a chord on every beat, the harmony changing every
    two beats, the downbeat's chord fuller and louder (as players accent it); with `drums`, a hi-hat on
    every eighth, a snare on the backbeats and a kick on the downbeat. Returns mono audio and the downbeat times."""
    beat = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    guitar = pretty_midi.Instrument(program=24)  # nylon
    for index in range(4 * bars):
        start = index * beat
        chord = CHORDS[(index // 2) % len(CHORDS)]
        voices = (*chord, chord[0] + 12) if index % 4 == 0 else chord[1:]
        guitar.notes.append(pretty_midi.Note(70, MELODY[index % len(MELODY)], start, start + 0.9 * beat))
        guitar.notes += [
            pretty_midi.Note(85 if index % 4 == 0 else 55, pitch, start, start + 0.9 * beat) for pitch in voices
        ]
    midi.instruments.append(guitar)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        for index in range(8 * bars):
            start = index * beat / 2
            kit.notes.append(pretty_midi.Note(70, 42, start, start + 0.05))
            if index % 4 == 2:
                kit.notes.append(pretty_midi.Note(100, 38, start, start + 0.1))
            if index % 8 == 0:
                kit.notes.append(pretty_midi.Note(90, 36, start, start + 0.1))
        midi.instruments.append(kit)
    return soundfont.render(midi, RATE).mean(axis=1), np.arange(bars) * 4 * beat


@pytest.fixture(scope="module")
def pieces() -> dict[bool, tuple[np.ndarray, np.ndarray]]:
    return {drums: _guitar_piece(100, 12, drums=drums) for drums in (False, True)}


def _log_mel(audio: np.ndarray) -> np.ndarray:
    return librosa.power_to_db(librosa.feature.melspectrogram(y=audio, sr=RATE, n_fft=2048, hop_length=512))


@pytest.mark.parametrize("drums", [False, True])
def test_percussion_is_heard_in_the_treble(pieces, drums):
    audio, _ = pieces[drums]
    assert is_percussive(_log_mel(audio), RATE) == drums


@pytest.mark.parametrize("drums", [False, True])
def test_downbeats_with_and_without_drums(pieces, drums):
    """Without drums the fuller, louder downbeat chord marks the bar; with drums the snare is loudest,
    on beats two and four, and the bass marks the bar instead."""
    audio, downbeats = pieces[drums]
    rhythm = estimate_rhythm(audio, RATE)
    assert rhythm.beats_per_bar == 4
    found = np.array(rhythm.downbeat_times)
    inside = downbeats[(downbeats > found.min() - 0.07) & (downbeats < found.max() + 0.07)]
    assert len(inside) >= len(downbeats) - 2
    assert np.all(np.min(np.abs(inside[:, None] - found[None, :]), axis=1) < 0.07)
