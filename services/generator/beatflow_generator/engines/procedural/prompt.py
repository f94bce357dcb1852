"""Reading a prompt: style, named instruments, stems asked away, mood, energy, tempo and key.

Every word is either understood (a style, an instrument, a mood or energy word, a tempo or key,
or a filler word) or listed in `PromptReading.unknown_words`; nothing maps silently to a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from beatflow_audio.theory import MODES, Key
from beatflow_generator.engines.procedural.styles import BY_NAME, DEFAULT_STYLE, STYLES, Part, Style

ENERGIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Instrument:
    """A named instrument: the stem it plays and its General MIDI program; `part` when it adds a stem."""

    stem: str
    program: int
    part: Part | None = None


_PAD = "X-------X-------"
INSTRUMENTS = {
    "piano": Instrument("chords", 0),
    "grand piano": Instrument("chords", 0),
    "keys": Instrument("chords", 4),
    "rhodes": Instrument("chords", 4),
    "electric piano": Instrument("chords", 4),
    "wurlitzer": Instrument("chords", 4),
    "organ": Instrument("chords", 16),
    "harpsichord": Instrument("chords", 6),
    "synth": Instrument("melody", 81),
    "lead": Instrument("melody", 81),
    "sax": Instrument("melody", 66),
    "saxophone": Instrument("melody", 66),
    "trumpet": Instrument("melody", 56),
    "flute": Instrument("melody", 73),
    "clarinet": Instrument("melody", 71),
    "oboe": Instrument("melody", 68),
    "violin": Instrument("melody", 40),
    "vibraphone": Instrument("melody", 11),
    "marimba": Instrument("melody", 12),
    "bells": Instrument("melody", 10),
    "harp": Instrument("melody", 46),
    "accordion": Instrument("melody", 21),
    "harmonica": Instrument("melody", 22),
    "whistle": Instrument("melody", 78),
    "808": Instrument("bass", 38),
    "sub bass": Instrument("bass", 38),
    "synth bass": Instrument("bass", 38),
    "bass guitar": Instrument("bass", 33),
    "upright bass": Instrument("bass", 32),
    "double bass": Instrument("bass", 32),
    "cello": Instrument("bass", 42),
    "strings": Instrument("strings", 48, Part(48, _PAD, 4, 55, 3)),
    "orchestra": Instrument("strings", 48, Part(48, _PAD, 4, 55, 3)),
    "pad": Instrument("pad", 89, Part(89, "X---------------", 4, 50, 4)),
    "pads": Instrument("pad", 89, Part(89, "X---------------", 4, 50, 4)),
    "choir": Instrument("choir", 52, Part(52, _PAD, 4, 55, 3)),
    "brass": Instrument("brass", 61, Part(61, "X-----..X-------", 3, 65, 3)),
    "horns": Instrument("brass", 61, Part(61, "X-----..X-------", 3, 65, 3)),
    "guitar": Instrument("guitar", 25, Part(25, "X-x-X-x-X-x-X-x-", 3, 65, 3)),
    "acoustic guitar": Instrument("guitar", 25, Part(25, "X-x-X-x-X-x-X-x-", 3, 65, 3)),
    "electric guitar": Instrument("guitar", 27, Part(27, "X-x-X-x-X-x-X-x-", 3, 65, 3)),
    "nylon guitar": Instrument("guitar", 24, Part(24, "X..X..X...X..X..", 3, 65, 3)),
}
# Words naming a whole stem, for "with drums", "no drums", "without bass".
STEM_WORDS = {
    "drums": "drums",
    "drum": "drums",
    "percussion": "drums",
    "bass": "bass",
    "bassline": "bass",
    "melody": "melody",
    "lead": "melody",
    "chords": "chords",
    "harmony": "chords",
}
NEGATIONS = ("no", "without", "minus")
# Mood words: whether they ask for a minor key (None: either) and how they move the energy.
MOODS = {
    "dark": (True, 0),
    "sad": (True, -1),
    "melancholic": (True, -1),
    "melancholy": (True, -1),
    "moody": (True, 0),
    "mysterious": (True, 0),
    "haunting": (True, -1),
    "sinister": (True, 0),
    "gloomy": (True, -1),
    "tense": (True, 1),
    "angry": (True, 1),
    "aggressive": (True, 1),
    "epic": (True, 1),
    "happy": (False, 1),
    "bright": (False, 0),
    "uplifting": (False, 1),
    "joyful": (False, 1),
    "cheerful": (False, 1),
    "fun": (False, 1),
    "sunny": (False, 0),
    "hopeful": (False, 0),
    "romantic": (False, -1),
    "triumphant": (False, 1),
    "euphoric": (False, 1),
    "playful": (False, 1),
    "peaceful": (False, -1),
    "upbeat": (False, 1),
    "chill": (None, -1),
    "calm": (None, -1),
    "relaxed": (None, -1),
    "relaxing": (None, -1),
    "dreamy": (None, -1),
    "mellow": (None, -1),
    "smooth": (None, -1),
    "laid back": (None, -1),
    "soft": (None, -1),
    "gentle": (None, -1),
    "slow": (None, -1),
    "warm": (None, 0),
    "neutral": (None, 0),
    "minor": (True, 0),
    "major": (False, 0),
    "energetic": (None, 1),
    "intense": (None, 1),
    "hard": (None, 1),
    "heavy": (None, 1),
    "driving": (None, 1),
    "powerful": (None, 1),
    "fast": (None, 1),
    "banger": (None, 1),
    "anthem": (None, 1),
}
FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "with",
        "and",
        "in",
        "of",
        "for",
        "some",
        "beat",
        "beats",
        "track",
        "song",
        "music",
        "tune",
        "loop",
        "piece",
        "instrumental",
        "style",
        "vibe",
        "vibes",
        "feel",
        "feeling",
        "sound",
        "sounds",
        "like",
        "plus",
        "on",
        "at",
        "to",
        "by",
        "mood",
        "key",
        "bpm",
        "tempo",
        "deep",
        "classic",
        "groove",
        "jam",
        "genre",
        "type",
        "kind",
        "make",
        "me",
        "please",
        "play",
        "playing",
        "played",
        "featuring",
        "feat",
        "using",
        "over",
        "under",
        "into",
    ]
)
_MODE_WORDS = "|".join(("major", "minor", "maj", "min", *MODES))
_KEY_IN_PROMPT = re.compile(rf"\b([a-g](?:#|b|♯|♭)?)\s*({_MODE_WORDS})\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9&#♯♭']+")
_BPM_IN_PROMPT = re.compile(r"\b(\d{2,3})\s*bpm\b", re.IGNORECASE)


@dataclass(frozen=True)
class PromptReading:
    """How a prompt (and mood) was read, and what the engine chose from it."""

    style: str
    style_reason: str
    instruments: dict[str, int]  # stem -> General MIDI program asked for by name
    added_parts: dict[str, Part]  # stems the prompt adds
    removed: tuple[str, ...]  # stems the prompt asks away
    wants_drums: bool  # "with drums" for a style that has none
    mood: str  # the mood words found, space-separated
    energy: str  # one of ENERGIES
    bpm: int
    bpm_reason: str
    key: Key
    key_reason: str
    unknown_words: tuple[str, ...]
    also_named_styles: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        """JSON for the job result and `generation.json`."""
        return {
            "style": self.style,
            "style_reason": self.style_reason,
            "also_named_styles": list(self.also_named_styles),
            "instruments": {stem: pretty_midi.program_to_instrument_name(p) for stem, p in self.instruments.items()},
            "added_stems": sorted(self.added_parts),
            "removed_stems": list(self.removed),
            "mood": self.mood,
            "energy": self.energy,
            "bpm": self.bpm,
            "bpm_reason": self.bpm_reason,
            "key": self.key.name,
            "key_reason": self.key_reason,
            "unknown_words": list(self.unknown_words),
        }


def _phrases(vocabulary) -> list[str]:
    """Longest first, so "deep house" is found before "house"."""
    return sorted(vocabulary, key=lambda phrase: (-len(phrase), phrase))


_STYLE_PHRASES = {phrase: style.name for style in STYLES for phrase in style.names}


class _Text:
    """The prompt's words, consumed as phrases are recognised; what is left is not understood."""

    def __init__(self, text: str):
        # Hyphens join words as spaces do: "bossa-nova", "hip-hop" and "laid-back" read as spelled apart.
        self.text = " " + " ".join(_WORD.findall(text.lower().replace("-", " "))) + " "

    def take(self, phrase: str) -> int | None:
        """Position of `phrase` as whole words, removed from the text; None when absent."""
        match = re.search(rf"(?<= ){re.escape(phrase)}(?= )", self.text)
        if not match:
            return None
        self.text = self.text[: match.start()] + "\x00" * len(phrase) + self.text[match.end() :]
        return match.start()

    def take_all(self, phrases) -> list[tuple[int, str]]:
        found = []
        for phrase in _phrases(phrases):
            while (position := self.take(phrase)) is not None:
                found.append((position, phrase))
        return sorted(found)

    def words(self) -> list[str]:
        return [word for word in self.text.replace("\x00", " ").split() if word]


def read_prompt(
    prompt: str, mood: str, *, bpm: int, key: Key | None, rng: np.random.Generator, melody_given: bool = False
) -> PromptReading:
    """Reads `prompt` and `mood`; `bpm` (0: choose) and `key` (None: choose) are the request's own."""
    text = _Text(prompt)
    prompt_key = _key_in(prompt)
    prompt_bpm = _BPM_IN_PROMPT.search(prompt)
    for pattern in (_KEY_IN_PROMPT, _BPM_IN_PROMPT):
        for match in pattern.finditer(prompt.lower()):
            for word in match[0].split():
                text.take(word.lower())

    styles = [_STYLE_PHRASES[phrase] for _, phrase in text.take_all(_STYLE_PHRASES)]
    styles = list(dict.fromkeys(styles))
    style = BY_NAME[styles[0]] if styles else BY_NAME[DEFAULT_STYLE]
    style_reason = f"named in the prompt ({styles[0]})" if styles else f"no style named; {DEFAULT_STYLE} by default"

    removed = _removed_stems(text)
    modes = [phrase for _, phrase in text.take_all(MODES)]
    wants_drums, instruments, added = False, {}, {}
    for _, phrase in text.take_all(INSTRUMENTS):
        instrument = INSTRUMENTS[phrase]
        if instrument.part is None:
            instruments[instrument.stem] = instrument.program
        elif not _style_has_family(style, instrument.program):
            added[instrument.stem] = instrument.part
    for _, phrase in text.take_all(STEM_WORDS):
        wants_drums |= STEM_WORDS[phrase] == "drums" and style.kit is None

    moods = [phrase for _, phrase in text.take_all(MOODS)]
    mood_text = _Text(mood)
    moods += [phrase for _, phrase in mood_text.take_all(MOODS)]
    unknown = [word for word in text.words() + mood_text.words() if word not in FILLER and word not in NEGATIONS]
    minor_votes = [MOODS[word][0] for word in moods if MOODS[word][0] is not None]
    energy = ENERGIES[int(np.clip(1 + sum(MOODS[word][1] for word in moods), 0, 2))]

    chosen_bpm, bpm_reason = _tempo(style, energy, bpm, prompt_bpm, rng)
    chosen_key, key_reason = _key(style, minor_votes, modes, key, prompt_key, rng, melody_given)
    return PromptReading(
        style=style.name,
        style_reason=style_reason,
        instruments=instruments,
        added_parts=added,
        removed=removed,
        wants_drums=wants_drums and "drums" not in removed,
        mood=" ".join(dict.fromkeys(moods)),
        energy=energy,
        bpm=chosen_bpm,
        bpm_reason=bpm_reason,
        key=chosen_key,
        key_reason=key_reason,
        unknown_words=tuple(dict.fromkeys(unknown)),
        also_named_styles=tuple(styles[1:]),
    )


def _removed_stems(text: _Text) -> tuple[str, ...]:
    removed = []
    named = {**STEM_WORDS, **{phrase: instrument.stem for phrase, instrument in INSTRUMENTS.items()}}
    for negation in NEGATIONS:
        for phrase in _phrases(named):
            while text.take(f"{negation} {phrase}") is not None:
                removed.append(named[phrase])
    while text.take("drumless") is not None:
        removed.append("drums")
    return tuple(dict.fromkeys(removed))


def _style_has_family(style: Style, program: int) -> bool:
    """Whether the style already plays an instrument of the same General MIDI family (8 programs)."""
    parts = [style.chords, style.melody, *style.extras.values()]
    return any(part.program // 8 == program // 8 for part in parts)


def _key_in(prompt: str) -> Key | None:
    match = _KEY_IN_PROMPT.search(prompt)
    if match is None:
        return None
    try:
        return Key.parse(f"{match[1]} {match[2]}")
    except ValueError:
        return None


def _tempo(style: Style, energy: str, bpm: int, prompt_bpm, rng: np.random.Generator) -> tuple[int, str]:
    low, high = style.bpm_range
    # Drawn even when unused, so the key drawn next does not depend on whether a tempo was given.
    third = (high - low) / 3
    start = low + third * ENERGIES.index(energy)
    drawn = round(start + rng.random() * third)
    if bpm:
        return bpm, "requested"
    if prompt_bpm:
        return int(np.clip(int(prompt_bpm[1]), 60, 300)), f"named in the prompt ({prompt_bpm[0]})"
    return drawn, f"{style.name} plays {low}-{high} bpm; {energy} energy"


def _key(
    style: Style,
    minor_votes: list[bool],
    modes: list[str],
    key: Key | None,
    prompt_key: Key | None,
    rng: np.random.Generator,
    melody_given: bool,
) -> tuple[Key, str]:
    tonic, coin = int(rng.integers(12)), float(rng.random())
    if key is not None:
        return key, "from the hummed melody" if melody_given else "requested"
    if prompt_key is not None:
        return prompt_key, "named in the prompt"
    if modes:
        return Key.of(tonic, modes[0]), f"{modes[0]} named in the prompt; tonic by seed"
    if minor_votes and all(minor_votes):
        return Key(tonic, True), "minor for the mood; tonic by seed"
    if minor_votes and not any(minor_votes):
        return Key(tonic, False), "major for the mood; tonic by seed"
    minor = coin < style.minor_share
    return Key(tonic, minor), f"{style.name} is minor {style.minor_share:.0%} of the time; mode and tonic by seed"
