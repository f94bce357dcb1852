"""Stems of notes -> audio: sampled instruments through FluidSynth and the General MIDI soundfont,
or the oscillator voices where no soundfont is installed.

FluidSynth loads the soundfont once per call, which costs more than rendering a stem, so all
stems go through one call: each stem plays in its own time slot, silenced ("all sound off") at
the end of the piece, and the slots are cut apart afterwards. Rendering is offline, single
threaded, without reverb or chorus, and writes 16-bit samples: the same notes give the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pretty_midi

from beatflow_audio import soundfont
from beatflow_generator.engines.procedural import voices

SLOT_GAP_SECONDS = 0.5
ALL_SOUND_OFF = 120
FLUIDSYNTH = "fluidsynth"
OSCILLATORS = "oscillators"


@dataclass(frozen=True)
class RenderedStems:
    stems: dict[str, np.ndarray]  # float32 [frames, 2] per stem
    renderer: str  # FLUIDSYNTH or OSCILLATORS
    detail: str


def renderer_available() -> tuple[str, str]:
    """Which renderer a render would use here, and why."""
    if soundfont.available():
        return FLUIDSYNTH, f"FluidSynth with {soundfont.soundfont_path()}"
    return OSCILLATORS, f"oscillator voices: FluidSynth or the soundfont {soundfont.soundfont_path()} is missing"


def render_stems(
    parts: dict[str, pretty_midi.Instrument], bpm: int, seconds: float, rate: int, seed: int
) -> RenderedStems:
    renderer, detail = renderer_available()
    frames = round(seconds * rate)
    if renderer == FLUIDSYNTH:
        return RenderedStems(_fluidsynth(parts, bpm, seconds, frames, rate), renderer, detail)
    return RenderedStems(_oscillators(parts, frames, rate, seed), renderer, detail)


def _fluidsynth(
    parts: dict[str, pretty_midi.Instrument], bpm: int, seconds: float, frames: int, rate: int
) -> dict[str, np.ndarray]:
    beat = 60.0 / bpm
    slot = math.ceil((seconds + SLOT_GAP_SECONDS) / beat) * beat  # whole beats: slot starts fall on MIDI ticks
    midi = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=float(bpm))
    for index, (name, part) in enumerate(parts.items()):
        offset = index * slot
        shifted = pretty_midi.Instrument(part.program, is_drum=part.is_drum, name=name)
        shifted.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start + offset, n.end + offset) for n in part.notes]
        shifted.control_changes = [pretty_midi.ControlChange(ALL_SOUND_OFF, 0, offset + seconds)]
        midi.instruments.append(shifted)
    audio = soundfont.render(midi, rate)
    stems = {}
    for index, name in enumerate(parts):
        start = round(index * slot * rate)
        stem = np.zeros((frames, 2), dtype=np.float32)
        piece = audio[start : start + frames]
        stem[: len(piece)] = piece
        stems[name] = stem
    return stems


# General MIDI families (program // 8) the oscillators play sustained rather than plucked:
# organs, strings, ensembles, brass, reeds, pipes, synth leads and pads.
_SUSTAINED_FAMILIES = {2, 5, 6, 7, 8, 9, 10, 11}
_BASS_FAMILY = 4
_KICKS, _SNARES, _TOMS = {35, 36}, {37, 38, 39, 40}, {41, 43, 45, 47, 48, 50}
_OPEN = {46, 49, 51, 52, 53, 55, 57, 59}


def _oscillators(parts: dict[str, pretty_midi.Instrument], frames: int, rate: int, seed: int) -> dict[str, np.ndarray]:
    stems = {}
    for name, part in parts.items():
        track = np.zeros((frames, 2), dtype=np.float32)
        if part.is_drum:
            _drum_voices(track, part, rate, np.random.default_rng(seed))
        else:
            family = part.program // 8
            for note in part.notes:
                length = max(note.end - note.start, 0.03)
                if family == _BASS_FAMILY or name == "bass":
                    sound = voices.bass_note(note.pitch, length, rate)
                elif family in _SUSTAINED_FAMILIES:
                    sound = voices.pad_note(note.pitch, length, rate, 0.0)
                else:
                    sound = voices.pluck_note(note.pitch, length, rate)
                voices.place(track, sound, round(note.start * rate), 0.4 * note.velocity / 127)
        stems[name] = track
    return stems


def _drum_voices(track: np.ndarray, part: pretty_midi.Instrument, rate: int, rng: np.random.Generator) -> None:
    """Untuned drums: a kick or tom settles on a fixed pitch, never on the key's tonic or its third."""
    kick, snare = voices.kick(rate, 50.0), voices.snare(rate, rng, 185.0)
    tom = voices.kick(rate, 110.0)
    closed, open_ = voices.hat(rate, rng), voices.hat(rate, rng, open_=True)
    for note in part.notes:
        if note.pitch in _KICKS:
            sound = kick
        elif note.pitch in _SNARES:
            sound = snare
        elif note.pitch in _TOMS:
            sound = tom
        else:
            sound = open_ if note.pitch in _OPEN else closed
        voices.place(track, sound, round(note.start * rate), note.velocity / 127)
