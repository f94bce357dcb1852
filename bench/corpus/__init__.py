"""A benchmark corpus of audio the project did not generate, with exact ground truth.

Excerpts of about 30 s of music21 corpus scores (many composers and styles), performed by the bench at
a tempo, instrument set and drum part fixed by a hash of the score (`bench.corpus.catalogue`; the tempo
within what the score's tempo marking asks for, where it has one), rendered with FluidSynth and the
General MIDI soundfont. The truth is what was rendered (`bench.corpus.scores`
states the rules). Truth, MIDI and audio are cached under `bench/.cache/corpus/`, so a second run
neither parses nor renders again.

Tempo truth is in the score's beat unit: quarter notes in 2/4, 3/4 and 4/4, half notes in 2/2 and 3/2,
dotted quarters in 6/8, 9/8 and 12/8. Beats, downbeats and chord times are in seconds from the start.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pretty_midi
import soundfile
from music21 import corpus, stream

from beatflow_audio import soundfont
from beatflow_audio.theory import Key
from bench.corpus import catalogue, tempo_marks
from bench.corpus.arrangement import seconds_per_quarter, to_midi
from bench.corpus.scores import Unusable, excerpt_start, extract, is_compound, meter_of

CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "corpus" / "v2"  # v2: tempo marks read


@dataclass(frozen=True)
class Piece:
    name: str  # unique: "<corpus path without extension>[#tune number]@<bpm>bpm"
    style: str
    split: str  # "tune" or "test", fixed by a hash of the score id (the name before "@")
    has_drums: bool
    bpm: float  # beats per minute in the score's beat unit (6/8 -> dotted quarters)
    beats: np.ndarray  # seconds
    downbeats: np.ndarray  # seconds
    beats_per_bar: int
    key: Key
    chords: list[tuple[float, float, str]]  # (start s, end s, mir_eval label); "X" = not a major/minor triad
    tempo_scale: float = 1.0  # the arrangement played this many times as fast (`bench.corpus.tempo_variants`)

    def audio(self, rate: int = 22050) -> np.ndarray:
        """Mono float32 at `rate`, rendered once and cached."""
        folder = _folder(self.name.split("@", 1)[0])
        scaled = "" if self.tempo_scale == 1.0 else f"-x{self.tempo_scale:g}"
        path = folder / f"audio-{rate}{scaled}.flac"
        if not path.is_file():
            midi = pretty_midi.PrettyMIDI(str(folder / "arrangement.mid"))
            if self.tempo_scale != 1.0:
                end = midi.get_end_time() + 1.0
                midi.adjust_times(np.array([0.0, end]), np.array([0.0, end / self.tempo_scale]))
            stereo = soundfont.render(midi, rate)
            _write_atomically(
                path, lambda target: soundfile.write(target, stereo.mean(axis=1), rate, "PCM_24", format="FLAC")
            )
        samples, _ = soundfile.read(path, dtype="float32")
        return samples


def analysis_pieces(split: str | None = None) -> list[Piece]:
    """Every usable piece of the corpus (split None), or those of the "tune" or "test" split."""
    if split not in (None, "tune", "test"):
        raise ValueError(f"split must be 'tune', 'test' or None, not {split!r}")
    pieces = []
    for source in catalogue.sources():
        if split is not None and source.split != split:
            continue
        truth = _truth(source)
        if "skipped" not in truth:
            pieces.append(_piece(truth))
    return pieces


def skipped_sources() -> dict[str, str]:
    """Score id -> why the truth rules rejected it (from the cache; parses what is not cached)."""
    return {source.id: truth["skipped"] for source in catalogue.sources() if "skipped" in (truth := _truth(source))}


def _folder(source_id: str) -> Path:
    return CACHE_DIR / re.sub(r"[^A-Za-z0-9._-]+", "_", source_id)


def _truth(source: catalogue.Source) -> dict:
    path = _folder(source.id) / "truth.json"
    if not path.is_file():
        _build(source)
    return json.loads(path.read_text())


def _build(source: catalogue.Source) -> None:
    """Parse, cut and arrange one source; write its truth (or why it is skipped) and its MIDI."""
    folder = _folder(source.id)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        try:
            parsed = corpus.parse(source.path, number=source.number) if source.number else corpus.parse(source.path)
        except Exception as error:  # music21's readers raise many kinds of errors on odd files
            raise Unusable(f"music21 cannot read it: {error}") from error
        # transposing instruments (clarinet in B-flat, horns) as heard
        score = cast(stream.Score, parsed.toSoundingPitch())
        beat_length, _ = meter_of(score)
        notes = tempo_marks.abc_notes(Path(str(corpus.getWork(source.path))), source.number) if source.from_abc else ""
        marked = tempo_marks.marked_range(score, excerpt_start(score), beat_length, notes)
        arrangement = source.arrangement(beat_length, is_compound(beat_length), marked)
        excerpt = extract(score, 30.0 * arrangement.bpm / 60.0 * beat_length, from_abc=source.from_abc)
        if excerpt.length * seconds_per_quarter(excerpt, arrangement.bpm) < 15.0:
            raise Unusable("shorter than 15 s")
    except Unusable as reason:
        truth = {"skipped": str(reason)}
    else:
        scale = seconds_per_quarter(excerpt, arrangement.bpm)
        midi = to_midi(excerpt, arrangement, seed=int(catalogue.unit(source.id, "velocity") * 2**31))
        _write_atomically(folder / "arrangement.mid", lambda target: midi.write(str(target)))
        truth = {
            "name": f"{source.id}@{arrangement.bpm:g}bpm",
            "style": source.style,
            "split": source.split,
            "has_drums": arrangement.drum_style is not None,
            "bpm": arrangement.bpm,
            "beats": [round(b * scale, 6) for b in excerpt.beats],
            "downbeats": [round(b * scale, 6) for b in excerpt.downbeats],
            "beats_per_bar": excerpt.beats_per_bar,
            "key": [excerpt.key.tonic, excerpt.key.minor],
            "chords": [[round(s * scale, 6), round(e * scale, 6), label] for s, e, label in excerpt.chords],
            "ensemble": arrangement.ensemble,
            "drum_style": arrangement.drum_style,
        }
    _write_atomically(folder / "truth.json", lambda target: Path(target).write_text(json.dumps(truth, indent=1)))


def _piece(truth: dict) -> Piece:
    return Piece(
        name=truth["name"],
        style=truth["style"],
        split=truth["split"],
        has_drums=truth["has_drums"],
        bpm=truth["bpm"],
        beats=np.array(truth["beats"]),
        downbeats=np.array(truth["downbeats"]),
        beats_per_bar=truth["beats_per_bar"],
        key=Key(*truth["key"]),
        chords=[(start, end, label) for start, end, label in truth["chords"]],
    )


def _write_atomically(path: Path, write) -> None:
    """Several processes may build the cache at once: each writes a temporary file and renames it."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(descriptor)
    os.chmod(temporary, 0o644)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
