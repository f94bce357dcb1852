"""FluidSynth rendering: sampled instruments, the same samples every time, no hang on empty notes."""

from __future__ import annotations

import numpy as np
import pretty_midi

from beatflow_audio import soundfont


def piece(*notes: tuple[int, float, float]) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(velocity=90, pitch=p, start=start, end=end) for p, start, end in notes]
    midi.instruments.append(piano)
    return midi


def test_renders_the_notes_deterministically_and_skips_notes_that_end_where_they_start():
    midi = piece((69, 0.0, 1.0), (60, 0.5, 0.5))
    first, again = soundfont.render(midi, 22050), soundfont.render(midi, 22050)
    assert first.shape == (int(2.0 * 22050), 2) and np.array_equal(first, again)
    assert len(midi.instruments[0].notes) == 2, "the caller's MIDI is left as it was"
    spectrum = np.abs(np.fft.rfft(first[:22050, 0]))
    assert abs(np.fft.rfftfreq(22050, 1 / 22050)[np.argmax(spectrum)] - 440) < 3
