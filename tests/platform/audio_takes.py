"""Takes of one stem, for the chunked store's tests and the storage bench.

A stem is a Bach chorale from music21's corpus (BWV 66.6) played at 120 bpm with General MIDI
instruments and rendered with FluidSynth, over a noise floor near -66 dBFS as a recording has (a
noise-free render repeats itself and compresses as no take does). Repetitions of the chorale change
key and instrument, so no stretch of the stem repeats an earlier one. A take is the stem with some bars
replaced by the same bars of another stem, as a repaint or a re-recorded passage does.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pretty_midi
import soundfile

from beatflow_audio import soundfont

RATE = 44100
BPM = 120
BAR_FRAMES = RATE * 4 * 60 // BPM  # 2 s
_TRANSPOSITIONS = (0, 2, -3, 5, -1, 4, -5, 3, 1, -2, 6, -4)
_PROGRAMS = (0, 24, 48, 19, 40, 11, 32, 73, 6, 52, 68, 26)


@functools.cache
def _chorale() -> tuple[list[pretty_midi.Note], float]:
    """The chorale's notes at 120 bpm (all parts) and its length in seconds."""
    from music21 import corpus
    from music21.midi import translate

    score = corpus.parse("bach/bwv66.6")
    midi = pretty_midi.PrettyMIDI(io.BytesIO(translate.streamToMidiFile(score).writestr()))
    scale = midi.get_tempo_changes()[1][0] / BPM
    notes = [
        pretty_midi.Note(note.velocity, note.pitch, note.start * scale, note.end * scale)
        for instrument in midi.instruments
        for note in instrument.notes
    ]
    return notes, midi.get_end_time() * scale


def stem(bars: int, *, transpose: int = 0, seed: int = 0) -> np.ndarray:
    """`bars` bars of the chorale, repeated as needed, as float32 stereo [frames, 2] at RATE."""
    notes, length = _chorale()
    midi = pretty_midi.PrettyMIDI(initial_tempo=BPM)
    repetitions = int(np.ceil(bars * BAR_FRAMES / RATE / length))
    for index in range(repetitions):
        part = pretty_midi.Instrument(program=_PROGRAMS[index % len(_PROGRAMS)])
        shift = _TRANSPOSITIONS[index % len(_TRANSPOSITIONS)] + transpose
        offset = index * length
        part.notes = [pretty_midi.Note(n.velocity, n.pitch + shift, n.start + offset, n.end + offset) for n in notes]
        midi.instruments.append(part)
    audio = soundfont.render(midi, RATE)[: bars * BAR_FRAMES]
    audio = np.pad(audio, ((0, bars * BAR_FRAMES - len(audio)), (0, 0)))
    noise = np.random.default_rng(seed).normal(0.0, 0.0005, audio.shape)
    return (audio + noise).astype(np.float32)


def take(base: np.ndarray, other: np.ndarray, first_bar: int, bars: int) -> np.ndarray:
    """`base` with bars [first_bar, first_bar + bars) taken from `other`."""
    edited = base.copy()
    span = slice(first_bar * BAR_FRAMES, (first_bar + bars) * BAR_FRAMES)
    edited[span] = other[span]
    return edited


def encoded(samples: np.ndarray, container: str = "WAV", subtype: str = "PCM_16", **settings) -> bytes:
    """The samples as a file (WAV, WAVEX, AIFF, FLAC with PCM_16 or PCM_24, ...), as libsndfile writes it
    (`settings`: soundfile.write's, e.g. FLAC's compression_level)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, RATE, format=container, subtype=subtype, **settings)
    return buffer.getvalue()
