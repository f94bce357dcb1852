"""Rendered multitracks with known stems, for scoring source separation.

Each excerpt is a stretch of a score from music21's corpus (chorales, string quartets,
madrigals, a rag) played by General MIDI instruments and a drum kit through FluidSynth, every
stem rendered on its own:

- vocals: the top part, sung by a synthesised voice (a band-limited glottal source through
  vowel formants, with vibrato, glides, breath and consonant bursts) or by a GM voice patch;
- bass: the lowest part an octave down on a bass patch;
- drums: a pattern written here (several styles, kits and swing amounts) over the score's meter;
- other: the remaining parts on an instrument set, panned apart.

The mixture is the sum of the stems, so the truth is exact. Renders are cached under
`bench/.cache/multitrack/v1/` as 8-channel 24-bit FLAC (4 stereo stems). The split into tune and test
halves is by a hash of the excerpt's name, so it does not depend on the list's order.

Real-voice mixes (`real_voice_excerpts`) put a recorded human voice over a render's accompaniment: the
words that KTuberling's players speak (Debian `ktuberling-data`, GPL-2+; one speaker per language, full
band), strung together with pauses and centred, in place of the render's vocals. A vocal method is
then judged on real voices too, not only on synthesised and sampled ones. Each speaker is in one half
(by a hash of the language), over accompaniments of renders from the same half.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import cast

import librosa
import numpy as np
import pretty_midi
import soundfile
from music21 import corpus, stream

from beatflow_audio import soundfont

STEMS = ("vocals", "drums", "bass", "other")
RATE = 44100
# Versioned: a change to the recipes' rendering must come with a new version.
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "multitrack" / "v1"
# Shorter notes are dropped: one whose note-off lands on its note-on's MIDI tick is written off-then-on
# and FluidSynth then renders its never-ending sustain forever.
MIN_NOTE_SECONDS = 0.03


@dataclass(frozen=True)
class Recipe:
    score: str  # music21 corpus path
    bpm: float  # quarter notes per minute
    drums: str  # a key of DRUM_STYLES
    seconds: float = 15.0
    start: float = 0.0  # where the excerpt starts, as a fraction of the piece

    @property
    def name(self) -> str:
        return f"{self.score.replace('/', '_')}-{self.drums}-{self.bpm:g}"

    @property
    def split(self) -> str:
        return "test" if _hash(self.name) % 2 else "tune"


@dataclass(frozen=True)
class Excerpt:
    name: str
    split: str
    rate: int
    stems: dict[str, np.ndarray]  # float32 [frames, 2] per name in STEMS

    @cached_property
    def mixture(self) -> np.ndarray:
        return sum((self.stems[name] for name in STEMS), np.zeros_like(self.stems[STEMS[0]]))


RECIPES = [
    Recipe("bach/bwv66.6", 92, "rock"),
    Recipe("bach/bwv269", 100, "waltz"),
    Recipe("bach/bwv347", 84, "hiphop", start=0.2),
    Recipe("bach/bwv153.1", 96, "bossa"),
    Recipe("bach/bwv86.6", 104, "funk"),
    Recipe("bach/bwv267", 88, "shuffle", start=0.4),
    Recipe("bach/bwv281", 110, "disco"),
    Recipe("bach/bwv2.6", 80, "swing", start=0.3),
    Recipe("bach/bwv40.8", 96, "rock", start=0.5, seconds=18),
    Recipe("bach/bwv70.7", 120, "waltz", start=0.3),
    Recipe("bach/bwv377", 100, "hiphop"),
    Recipe("haydn/opus74no1/movement1", 120, "disco", start=0.1),
    Recipe("mozart/k80/movement1", 84, "waltz", start=0.2),
    Recipe("mozart/k156/movement1", 80, "shuffle", start=0.3, seconds=12),
    Recipe("beethoven/opus18no1/movement1", 140, "swing", start=0.05),
    Recipe("mozart/k458/movement1", 150, "compound", start=0.1, seconds=12),
    Recipe("haydn/opus1no1/movement1", 132, "compound", start=0.2),
    Recipe("beethoven/opus59no1/movement1", 112, "funk", start=0.15, seconds=18),
    Recipe("mozart/k155/movement1", 116, "rock", start=0.25),
    Recipe("monteverdi/madrigal.3.1", 124, "bossa", start=0.1, seconds=20),
    Recipe("monteverdi/madrigal.4.3", 118, "swing", start=0.2),
    Recipe("monteverdi/madrigal.3.4", 110, "hiphop", start=0.3),
    Recipe("palestrina/agnus_0", 150, "disco", start=0.2, seconds=18),
    Recipe("joplin/maple_leaf_rag", 96, "shuffle", start=0.1, seconds=14),
]

# General MIDI programs (0-based).
VOICE_PATCHES = (52, 53, 54)  # Choir Aahs, Voice Oohs, Synth Voice
BASS_PATCHES = (32, 33, 34, 35, 38, 39)  # acoustic, finger, pick, fretless, synth 1, synth 2
OTHER_SETS = (
    (0, 0),  # acoustic grand piano
    (4, 48),  # electric piano, string ensemble
    (24, 25),  # nylon and steel guitars
    (16, 27),  # drawbar organ, clean electric guitar
    (61, 0),  # brass section, piano
    (89, 5),  # warm pad, electric piano 2
    (29, 30),  # overdriven and distortion guitars
    (46, 40, 42),  # harp, violin, cello
    (11, 19),  # vibraphone, church organ
    (56, 65, 71),  # trumpet, alto sax, clarinet
)
DRUM_KITS = (0, 8, 16, 24, 25, 32, 40)  # standard, room, power, electronic, TR-808, jazz, brush

KICK, SNARE, RIM, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, RIDE, CRASH, SHAKER = 36, 38, 37, 39, 42, 44, 46, 51, 49, 70
TOMS = (50, 47, 45, 43)
# Per style: cycle length in quarter notes and hits (quarter-note offset, note, velocity). Offbeat
# eighths are delayed by the excerpt's swing amount.
DRUM_STYLES: dict[str, tuple[float, Sequence[tuple[float, int, int]]]] = {
    "rock": (
        4,
        [(0, KICK, 110), (1, SNARE, 110), (2, KICK, 100), (2.5, KICK, 80), (3, SNARE, 112)]
        + [(i / 2, CLOSED_HAT, 90 - 25 * (i % 2)) for i in range(8)],
    ),
    "funk": (
        4,
        [(0, KICK, 115), (0.75, KICK, 85), (1, SNARE, 112), (1.75, SNARE, 40), (2.5, KICK, 95), (3, SNARE, 110)]
        + [(3.25, SNARE, 35), (3.75, OPEN_HAT, 70)]
        + [(i / 4, CLOSED_HAT, 85 if i % 2 == 0 else 55) for i in range(15)],
    ),
    "disco": (
        4,
        [(b, KICK, 112) for b in range(4)]
        + [(1, CLAP, 100), (3, CLAP, 100)]
        + [(b + 0.5, OPEN_HAT, 80) for b in range(4)],
    ),
    "hiphop": (
        4,
        [(0, KICK, 120), (0.75, KICK, 90), (2.25, KICK, 100), (2.5, KICK, 95), (1, SNARE, 115), (3, SNARE, 115)]
        + [(i / 2, CLOSED_HAT, 75 - 20 * (i % 2)) for i in range(8)],
    ),
    "swing": (
        4,
        [(0, RIDE, 90), (1, RIDE, 95), (1.5, RIDE, 70), (2, RIDE, 90), (3, RIDE, 95), (3.5, RIDE, 70)]
        + [(b, PEDAL_HAT, 70) for b in (1, 3)]
        + [(0, KICK, 60), (2, KICK, 55), (2.5, SNARE, 50)],
    ),
    "shuffle": (
        4,
        [(0, KICK, 110), (2, KICK, 105), (1, SNARE, 108), (3, SNARE, 108)]
        + [(b + o, CLOSED_HAT, 90 - 30 * (o > 0)) for b in range(4) for o in (0, 0.5)],
    ),
    "bossa": (
        4,
        [(0, KICK, 90), (1.5, KICK, 75), (2, KICK, 90), (3.5, KICK, 75)]
        + [(o, RIM, 85) for o in (0, 0.75, 1.5, 2.5, 3.25)]
        + [(i / 2, SHAKER, 70) for i in range(8)],
    ),
    "waltz": (3, [(0, KICK, 105), (1, SNARE, 80), (2, SNARE, 80)] + [(i / 2, CLOSED_HAT, 80) for i in range(6)]),
    "compound": (
        3,
        [(0, KICK, 110), (1.5, SNARE, 105), (2.5, KICK, 80)]
        + [(i / 2, CLOSED_HAT, 85 - 20 * (i % 3 > 0)) for i in range(6)],
    ),
}
SWING = {"swing": 1.0, "shuffle": 1.0, "hiphop": 0.5}

VOWELS = {  # formant frequencies (Hz) and relative amplitudes of a sung soprano-ish vowel
    "a": ((800, 1150, 2900, 3900, 4950), (1.0, 0.5, 0.03, 0.1, 0.004)),
    "e": ((400, 1600, 2700, 3300, 4950), (1.0, 0.08, 0.04, 0.03, 0.002)),
    "i": ((350, 1700, 2700, 3700, 4950), (1.0, 0.1, 0.03, 0.02, 0.002)),
    "o": ((450, 800, 2830, 3800, 4950), (1.0, 0.3, 0.02, 0.02, 0.003)),
    "u": ((325, 700, 2530, 3500, 4950), (1.0, 0.16, 0.02, 0.006, 0.001)),
}
FORMANT_BANDWIDTHS = (80, 90, 120, 130, 140)

# Debian `ktuberling-data`: one folder of spoken words per language. These speakers are recorded at
# 44.1 or 48 kHz (the others at 8-22 kHz, too narrow for a music mix).
SPOKEN_WORDS = Path("/usr/share/ktuberling/sounds")
REAL_VOICES = ("da", "de", "el", "en", "gl", "lt", "nn", "ru", "sl", "uk", "wa")
MIXES_PER_VOICE = 2
WORD_GAP_SECONDS = (0.05, 0.35)


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def excerpts(split: str | None = None, *, recipes: list[Recipe] = RECIPES) -> list[Excerpt]:
    """The rendered excerpts (of one split if named), from the cache where they are there."""
    return [load(recipe) for recipe in recipes if split is None or recipe.split == split]


def real_voice_excerpts(split: str | None = None) -> list[Excerpt]:
    """Recorded speakers over rendered accompaniments (see the module's docstring), of one split if named."""
    if not SPOKEN_WORDS.is_dir():
        raise FileNotFoundError(f"{SPOKEN_WORDS} is missing: apt-get install ktuberling-data")
    found = []
    for language in REAL_VOICES:
        voice_split = "test" if _hash(f"voice-{language}") % 2 else "tune"
        if split is not None and voice_split != split:
            continue
        rng = np.random.default_rng(_hash(f"voice-{language}"))
        accompaniments = [recipe for recipe in RECIPES if recipe.split == voice_split]
        for index in rng.choice(len(accompaniments), MIXES_PER_VOICE, replace=False):
            backing = load(accompaniments[int(index)])
            voice = spoken_line(SPOKEN_WORDS / language, len(backing.mixture), RATE, rng)
            found.append(with_vocals(backing, f"voice_{language}-over-{backing.name}", voice_split, voice))
    return found


def spoken_line(folder: Path, frames: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """float32 [frames, 2]: the folder's recorded words in a random order, mono, centred, with pauses
    between them, until `frames` are filled."""
    words = sorted(path for path in folder.iterdir() if path.suffix in (".ogg", ".opus", ".wav"))
    line = np.zeros(frames, dtype=np.float32)
    position = int(rng.uniform(*WORD_GAP_SECONDS) * rate)
    for path in rng.permutation(np.array(words, dtype=object)):
        audio, word_rate = soundfile.read(path, dtype="float32", always_2d=True)
        word = librosa.resample(audio.mean(axis=1), orig_sr=word_rate, target_sr=rate)
        word = word[: frames - position]
        line[position : position + len(word)] = word
        position += len(word) + int(rng.uniform(*WORD_GAP_SECONDS) * rate)
        if position >= frames:
            break
    return np.repeat(line[:, None], 2, axis=1)


def with_vocals(backing: Excerpt, name: str, split: str, voice: np.ndarray) -> Excerpt:
    """`backing` with `voice` in place of its vocals, at the level the vocals had, the mix peaking at 0.9."""
    level = np.sqrt(np.mean(backing.stems["vocals"] ** 2)) / (np.sqrt(np.mean(voice**2)) + 1e-9)
    stems = {**backing.stems, "vocals": voice * level}
    peak = np.abs(sum(stems.values())).max()
    return Excerpt(
        name, split, backing.rate, {stem: (audio * (0.9 / peak)).astype(np.float32) for stem, audio in stems.items()}
    )


def load(recipe: Recipe) -> Excerpt:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{recipe.name}.flac"
    if not path.exists():
        stems = render(recipe)
        frames = np.concatenate([stems[name] for name in STEMS], axis=1)
        temporary = path.with_suffix(".tmp.flac")
        soundfile.write(temporary, frames, RATE, subtype="PCM_24")
        temporary.rename(path)
    frames, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return Excerpt(
        recipe.name, recipe.split, rate, {name: frames[:, 2 * i : 2 * i + 2] for i, name in enumerate(STEMS)}
    )


@dataclass(frozen=True)
class _Note:
    start: float  # seconds
    end: float
    pitch: int


def _score_lines(recipe: Recipe) -> tuple[list[_Note], list[_Note], list[list[_Note]]]:
    """Melody, bass and the other parts of the excerpt, in seconds from its start."""
    score = cast(stream.Score, corpus.parse(recipe.score))  # every recipe names a score, not a part or an opus
    seconds_per_quarter = 60.0 / recipe.bpm
    first = recipe.start * float(score.highestTime)
    window = (first, first + recipe.seconds / seconds_per_quarter)
    parts = [_chords(part, window, seconds_per_quarter) for part in score.parts]
    if len(parts) == 2:  # a piano score: the top of the right hand sings, the bottom of the left hand is the bass
        melody, right = _pick(parts[0], max)
        bass, left = _pick(parts[1], min)
        return melody, bass, [right, left]
    others = [[_Note(start, end, pitch) for start, end, pitches in part for pitch in pitches] for part in parts[1:-1]]
    return _pick(parts[0], max)[0], _pick(parts[-1], min)[0], others


def _chords(part, window: tuple[float, float], seconds_per_quarter: float) -> list[tuple[float, float, list[int]]]:
    """(start s, end s, MIDI pitches from low to high) of each note or chord of a music21 part that
    starts inside the window (in quarter notes), cut at its end."""
    first, last = window
    chords = []
    for element in part.stripTies().flatten().notes:
        onset, length = float(element.offset), float(element.duration.quarterLength)
        if onset < first or onset >= last or length <= 0:
            continue
        start = (onset - first) * seconds_per_quarter
        end = min(last - first, onset + length - first) * seconds_per_quarter
        if end - start >= MIN_NOTE_SECONDS:
            chords.append((start, end, sorted(p.midi for p in element.pitches)))
    return chords


def _pick(chords: list[tuple[float, float, list[int]]], choose) -> tuple[list[_Note], list[_Note]]:
    """The line of the `choose`n pitch of each chord (max: the top, min: the bottom), and the rest."""
    line, rest = [], []
    for start, end, pitches in chords:
        chosen = choose(pitches)
        line.append(_Note(start, end, chosen))
        rest += [_Note(start, end, p) for p in pitches if p != chosen]
    return line, rest


def _midi(
    lines: list[tuple[int, list[_Note], int]], rng: np.random.Generator, transpose: int = 0
) -> pretty_midi.PrettyMIDI:
    """One PrettyMIDI of (program, notes, pan 0..127) lines, with humanised velocity."""
    midi = pretty_midi.PrettyMIDI()
    for program, notes, pan in lines:
        instrument = pretty_midi.Instrument(program=program)
        instrument.control_changes.append(pretty_midi.ControlChange(10, pan, 0.0))
        for note in notes:
            velocity = int(np.clip(rng.normal(80, 10), 40, 120))
            instrument.notes.append(pretty_midi.Note(velocity, note.pitch + transpose, note.start, note.end))
        midi.instruments.append(instrument)
    return midi


def _drums(recipe: Recipe, rng: np.random.Generator) -> pretty_midi.PrettyMIDI:
    cycle, hits = DRUM_STYLES[recipe.drums]
    swing = SWING.get(recipe.drums, 0.0) * rng.uniform(0.5, 1.0)
    seconds_per_quarter = 60.0 / recipe.bpm
    kit = pretty_midi.Instrument(program=int(rng.choice(DRUM_KITS)), is_drum=True)
    cycles = int(np.ceil(recipe.seconds / seconds_per_quarter / cycle))

    def hit(quarters: float, note: int, velocity: float) -> None:
        if quarters % 1 == 0.5:
            quarters += swing / 6  # a full swing puts the offbeat eighth on the last triplet
        time = quarters * seconds_per_quarter + rng.normal(0, 0.004)
        if 0 <= time < recipe.seconds:
            velocity = int(np.clip(velocity + rng.normal(0, 8), 20, 127))
            kit.notes.append(pretty_midi.Note(velocity, note, time, time + 0.1))

    hit(0, CRASH, 100)
    for index in range(cycles):
        fill = index % 4 == 3
        for offset, note, velocity in hits:
            if not (fill and offset >= cycle - 1):
                hit(index * cycle + offset, note, velocity)
        if fill:
            for step in range(4):
                hit(index * cycle + cycle - 1 + step / 4, TOMS[step], 95)
            hit((index + 1) * cycle, CRASH, 105)
    midi = pretty_midi.PrettyMIDI()
    midi.instruments.append(kit)
    return midi


def sung_voice(notes: list[_Note], rate: int, rng: np.random.Generator) -> np.ndarray:
    """A synthetic singer: each note a glottal pulse spectrum (-6 dB per octave) shaped by a
    vowel's formants, with glide in, delayed vibrato, breath noise and an occasional consonant."""
    total = int((max((n.end for n in notes), default=0) + 0.5) * rate)
    out = np.zeros(total)
    previous = None
    for note in notes:
        start, count = int(note.start * rate), int((note.end - note.start + 0.08) * rate)
        count = min(count, total - start)
        if count <= 0:
            continue
        t = np.arange(count) / rate
        target = 440.0 * 2 ** ((note.pitch - 69) / 12)
        cents = np.zeros(count)
        if previous is not None and note.start - previous < 0.05:
            glide = rng.uniform(-150, 150) if rng.random() < 0.5 else 0.0
            cents += glide * np.exp(-t / 0.04)
        depth, speed = rng.uniform(20, 60), rng.uniform(4.8, 6.5)
        cents += depth * np.clip((t - 0.15) / 0.2, 0, 1) * np.sin(2 * np.pi * speed * t + rng.uniform(0, 6.3))
        f0 = target * 2 ** (cents / 1200)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        frequencies, amplitudes = VOWELS[str(rng.choice(list(VOWELS)))]
        harmonics = np.arange(1, int(8000 / target) + 1)[:, None]
        partials = harmonics * f0[None, :]
        envelope = sum(
            a / (1 + ((partials - f) / (b / 2)) ** 2)
            for f, a, b in zip(frequencies, amplitudes, FORMANT_BANDWIDTHS, strict=True)
        )
        voiced = (envelope / harmonics * np.sin(harmonics * phase[None, :])).sum(axis=0)
        breath = np.diff(rng.standard_normal(count + 1)) * 0.02
        amplitude = np.minimum(1.0, t / 0.04) * np.minimum(1.0, (count / rate - t) / 0.06)
        sound = (voiced + breath) * amplitude * (0.7 + 0.3 * rng.random())
        if rng.random() < 0.4:  # a consonant just before the vowel
            burst = int(rng.uniform(0.02, 0.05) * rate)
            at = max(0, start - burst)
            noise = np.diff(rng.standard_normal(start - at + 1))
            if start > at:
                out[at:start] += 0.05 * noise * np.hanning(start - at)
        out[start : start + count] += sound
        previous = note.end
    return np.repeat(out[:, None], 2, axis=1).astype(np.float32)


def render(recipe: Recipe) -> dict[str, np.ndarray]:
    """The recipe's four stems, float32 stereo at RATE, each at its own level."""
    rng = np.random.default_rng(_hash(recipe.name))
    melody, bass, others = _score_lines(recipe)
    frames = int(recipe.seconds * RATE)
    if rng.random() < 0.5:
        vocals = sung_voice(melody, RATE, rng)
    else:
        vocals = soundfont.render(_midi([(int(rng.choice(VOICE_PATCHES)), melody, 64)], rng), RATE)
    bass_audio = soundfont.render(_midi([(int(rng.choice(BASS_PATCHES)), bass, 64)], rng, transpose=-12), RATE)
    instruments = OTHER_SETS[int(rng.integers(len(OTHER_SETS)))]
    pans = rng.permutation(np.linspace(24, 104, max(2, len(others))).astype(int))
    lines = [(instruments[i % len(instruments)], part, int(pans[i])) for i, part in enumerate(others)]
    stems = {
        "vocals": vocals,
        "drums": soundfont.render(_drums(recipe, rng), RATE),
        "bass": bass_audio,
        "other": soundfont.render(_midi(lines, rng), RATE),
    }
    levels_db = {"vocals": 0.0, "drums": rng.uniform(-5, 1), "bass": rng.uniform(-6, 0), "other": rng.uniform(-5, 1)}
    fitted = {}
    for name, audio in stems.items():
        audio = np.pad(audio[:frames], ((0, max(0, frames - len(audio))), (0, 0)))
        rms = np.sqrt(np.mean(audio**2)) + 1e-9
        fitted[name] = audio * (0.1 * 10 ** (levels_db[name] / 20) / rms)
    peak = np.abs(sum(fitted.values())).max()
    return {name: (audio * (0.9 / peak)).astype(np.float32) for name, audio in fitted.items()}
