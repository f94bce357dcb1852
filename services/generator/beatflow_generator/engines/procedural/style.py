"""From prompt words and mood to musical choices: genre patterns, tempo, key, instruments."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from beatflow_audio.theory import Key


@dataclass(frozen=True)
class DrumPattern:
    """Steps (0..15, sixteenth notes) of one bar per voice."""

    kick: tuple[int, ...]
    snare: tuple[int, ...]
    hat: tuple[int, ...]
    open_hat: tuple[int, ...] = ()


@dataclass(frozen=True)
class Genre:
    name: str
    bpm: int
    drums: DrumPattern
    swing: float  # delay of off-beat sixteenths, as a fraction of a sixteenth
    bass_steps: tuple[int, ...]
    melody_density: float  # chance that an eighth-note slot holds a note


EIGHTHS = tuple(range(0, 16, 2))
SIXTEENTHS = tuple(range(16))

GENRES = {
    "hiphop": Genre("hiphop", 90, DrumPattern((0, 7, 10), (4, 12), EIGHTHS), 0.15, (0, 7, 10), 0.5),
    "lofi": Genre("lofi", 80, DrumPattern((0, 7, 10), (4, 12), EIGHTHS), 0.25, (0, 10), 0.4),
    "trap": Genre("trap", 140, DrumPattern((0, 6, 8, 11), (4, 12), SIXTEENTHS), 0.0, (0, 6, 8, 11), 0.45),
    "house": Genre(
        "house", 124, DrumPattern((0, 4, 8, 12), (4, 12), (2, 6, 10, 14), (2, 6, 10, 14)), 0.0, (2, 6, 10, 14), 0.55
    ),
    "techno": Genre("techno", 130, DrumPattern((0, 4, 8, 12), (4, 12), SIXTEENTHS), 0.0, (2, 6, 10, 14), 0.35),
    "dnb": Genre("dnb", 172, DrumPattern((0, 10), (4, 12), EIGHTHS), 0.0, (0, 10), 0.5),
    "rock": Genre("rock", 118, DrumPattern((0, 8, 10), (4, 12), EIGHTHS), 0.0, (0, 4, 8, 10, 12), 0.5),
    "pop": Genre("pop", 110, DrumPattern((0, 8, 10), (4, 12), EIGHTHS), 0.0, (0, 8, 10), 0.6),
    "ambient": Genre("ambient", 70, DrumPattern((0, 8), (12,), (0, 4, 8, 12)), 0.0, (0,), 0.3),
}
SYNONYMS = {
    "hip-hop": "hiphop",
    "hip hop": "hiphop",
    "boom bap": "hiphop",
    "boombap": "hiphop",
    "rap": "hiphop",
    "lo-fi": "lofi",
    "lo fi": "lofi",
    "chillhop": "lofi",
    "edm": "house",
    "dance": "house",
    "disco": "house",
    "drum and bass": "dnb",
    "drum & bass": "dnb",
    "jungle": "dnb",
    "electronic": "techno",
    "synthwave": "pop",
    "indie": "rock",
    "metal": "rock",
    "punk": "rock",
    "chill": "lofi",
    "cinematic": "ambient",
}
BRIGHT_MOODS = {"happy", "energetic", "upbeat", "bright", "joyful", "uplifting", "euphoric", "neutral", "fun"}
DARK_MOODS = {"sad", "dark", "melancholic", "moody", "chill", "mysterious", "angry", "tense", "calm", "dreamy"}
BRIGHT_KEYS = ("C major", "G major", "D major", "F major", "A major", "E major")
DARK_KEYS = ("A minor", "E minor", "D minor", "C minor", "G minor", "F# minor")


def genre_for(prompt: str) -> Genre:
    text = prompt.lower()
    for phrase, name in SYNONYMS.items():
        if phrase in text:
            text += f" {name}"
    words = set(re.findall(r"[a-z]+", text))
    for name, genre in GENRES.items():
        if name in words:
            return genre
    return GENRES["pop"]


def key_for(mood: str, prompt: str, rng: np.random.Generator) -> Key:
    words = set(re.findall(r"[a-z]+", f"{mood} {prompt}".lower()))
    dark = bool(words & DARK_MOODS) and not (words & BRIGHT_MOODS and mood in BRIGHT_MOODS)
    return Key.parse(str(rng.choice(DARK_KEYS if dark else BRIGHT_KEYS)))


# Chord progressions as scale degrees (0 = tonic), one chord per bar; all start on the tonic
# and touch the dominant so the key is unambiguous to a listener (and to key estimation).
PROGRESSIONS = {False: ((0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 0, 4)), True: ((0, 3, 4, 0), (0, 5, 3, 4), (0, 5, 4, 0))}
