"""Notes -> audio with sampled instruments: FluidSynth and a General MIDI soundfont.

The `fluidsynth` command (Debian `fluidsynth`) renders a MIDI file offline, faster than real
time and the same way every time; the soundfont defaults to Debian's FluidR3_GM (MIT), and
`BEATFLOW_SOUNDFONT` names another. `available()` says whether both are installed, so callers
can fall back to something else where they are not.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
RENDER_TIMEOUT_SECONDS = 600
# FluidSynth never finishes a file in which a note ends on the tick it starts (it writes until
# killed), so notes shorter than this are left out; nobody hears them anyway.
MIN_NOTE_SECONDS = 0.01


class SoundfontUnavailable(RuntimeError):
    """FluidSynth or the soundfont is not installed."""


def soundfont_path() -> Path:
    return Path(os.environ.get("BEATFLOW_SOUNDFONT", DEFAULT_SOUNDFONT))


def available() -> bool:
    return shutil.which("fluidsynth") is not None and soundfont_path().is_file()


def render(midi: pretty_midi.PrettyMIDI, rate: int = 44100, *, effects: bool = False) -> np.ndarray:
    """The MIDI rendered to float32 stereo [frames, 2] at `rate`, cut to the MIDI's end plus the
    instruments' release. Reverb and chorus are off unless `effects` (they smear onsets)."""
    if not available():
        raise SoundfontUnavailable(f"fluidsynth or the soundfont {soundfont_path()} is not installed")
    with tempfile.TemporaryDirectory(prefix="beatflow-fluid-") as folder:
        midi_path, wav_path = Path(folder, "in.mid"), Path(folder, "out.wav")
        _audible(midi).write(str(midi_path))
        command = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(rate), "-F", str(wav_path), "-T", "wav"]
        if not effects:
            command += ["-R", "0", "-C", "0"]
        command += [str(soundfont_path()), str(midi_path)]
        subprocess.run(command, check=True, capture_output=True, timeout=RENDER_TIMEOUT_SECONDS)
        samples, _ = soundfile.read(wav_path, dtype="float32", always_2d=True)
    tail = int((midi.get_end_time() + 1.0) * rate)
    return samples[:tail]


def _audible(midi: pretty_midi.PrettyMIDI) -> pretty_midi.PrettyMIDI:
    """A copy of `midi` without the notes shorter than MIN_NOTE_SECONDS."""
    audible = copy.deepcopy(midi)
    for instrument in audible.instruments:
        instrument.notes = [note for note in instrument.notes if note.end - note.start >= MIN_NOTE_SECONDS]
    return audible
