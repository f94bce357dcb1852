"""The arranger follows the prompt: styles with their own grooves and instruments, named and
refused instruments, moods, modes, and words it did not understand."""

from __future__ import annotations

import functools
import itertools

import librosa
import numpy as np
import pytest

from beatflow_audio.theory import Key
from beatflow_generator.engines.procedural.engine import SAMPLE_RATE, ProceduralEngine
from beatflow_generator.engines.procedural.prompt import read_prompt
from beatflow_generator.engines.procedural.styles import CLAP, KICK, RIM, SNARE, STYLES
from beatflow_generator.engines.procedural.variation import varied
from bench.generator import VARIETY_FLOOR, VARIETY_STYLES, style_features, textbook_key
from tests.generator.test_procedural_engine import spec as procedural_spec

ENGINE = ProceduralEngine()
REQUIRED_STYLES = [
    "house",
    "techno",
    "hiphop",
    "trap",
    "lofi",
    "dnb",
    "reggae",
    "funk",
    "jazz",
    "bossa",
    "rock",
    "pop",
    "ambient",
    "cinematic",
    "afrobeat",
    "string quartet",
]


# The engine tests' request, at this file's defaults.
spec = functools.partial(procedural_spec, bpm=100, key="A minor", duration=8.0, seed=11)


def reading(prompt: str, mood: str = "", bpm: int = 0, key: Key | None = None):
    return read_prompt(prompt, mood, bpm=bpm, key=key, rng=np.random.default_rng(1))


def starts_in_beats(arrangement, stem: str, pitch: int | None = None) -> list[float]:
    beat = 60.0 / arrangement.bpm
    notes = arrangement.parts[stem].notes
    return sorted({round(n.start / beat, 2) for n in notes if pitch is None or n.pitch == pitch})


def test_the_table_has_the_styles_musicians_ask_for():
    assert set(REQUIRED_STYLES) <= {style.name for style in STYLES}
    for name in REQUIRED_STYLES:
        assert reading(f"some {name} please").style == name


def test_prompt_reading_names_style_instruments_mood_and_unknown_words():
    read = reading("dark lo-fi hip hop with rhodes and strings, no drums, zorblax vibes", mood="sad flurp")
    assert read.style == "lofi" and read.also_named_styles == ("hiphop",)
    assert read.instruments == {"chords": 4}
    assert "strings" in read.added_parts and read.removed == ("drums",)
    assert read.mood == "dark sad" and read.key.minor and read.energy == "low"
    assert read.unknown_words == ("zorblax", "flurp")
    assert read.as_dict()["instruments"] == {"chords": "Electric Piano 1"}


def test_nothing_named_is_said_not_silently_defaulted():
    read = reading("something for my night drive")
    assert read.style == "pop" and "no style named" in read.style_reason
    assert read.unknown_words == ("something", "my", "night", "drive")


def test_tempo_and_key_in_the_prompt_are_honoured_and_requests_win():
    read = reading("funk in C# dorian at 98 bpm")
    assert (read.key.name, read.bpm) == ("C# dorian", 98) and not read.unknown_words
    requested = reading("funk in C# dorian at 98 bpm", bpm=104, key=Key.parse("E minor"))
    assert (requested.key.name, requested.bpm, requested.bpm_reason) == ("E minor", 104, "requested")


def test_each_style_has_its_own_stems_and_instruments():
    for name in REQUIRED_STYLES:
        arrangement = ENGINE.arrangement(spec(name))
        assert {"bass", "chords", "melody"} <= set(arrangement.parts), name
        assert all(part.notes for part in arrangement.parts.values()), name
        assert ("drums" in arrangement.parts) == (name not in ("string quartet", "ambient")), name
    quartet = ENGINE.arrangement(spec("classical string quartet"))
    assert {part.program for part in quartet.parts.values()} <= {40, 41, 42}, "violins, viola, cello"
    funk = ENGINE.arrangement(spec("funk"))
    assert "brass" in funk.parts


def test_no_drums_and_without_bass_are_honoured():
    arrangement = ENGINE.arrangement(spec("house without bass, no drums"))
    assert not {"drums", "bass"} & set(arrangement.parts)
    assert "drums" in ENGINE.arrangement(spec("ambient with drums")).parts


def test_reggae_skanks_on_two_and_four_over_a_one_drop():
    reggae = ENGINE.arrangement(spec("reggae skank", bpm=76))
    assert {beat % 4 for beat in starts_in_beats(reggae, "chords")} == {1.0, 3.0}, "the skank: beats 2 and 4"
    assert {beat % 4 for beat in starts_in_beats(reggae, "drums", KICK)} == {2.0}, "one drop: the kick on 3"
    assert {beat % 4 for beat in starts_in_beats(reggae, "drums", RIM)} == {2.0}


def test_jazz_swings_over_a_walking_bass():
    jazz = ENGINE.arrangement(spec("smooth jazz trio", bpm=120))
    bass = starts_in_beats(jazz, "bass")
    assert bass == [float(beat) for beat in range(len(bass))], "a walking bass: one note on every beat"
    offbeats = {round(beat % 1, 2) for beat in starts_in_beats(jazz, "drums") if beat % 1}
    assert offbeats == {0.67}, "off-beat eighths fall on the last triplet"


def test_trap_and_house_grooves_differ_where_they_should():
    house = ENGINE.arrangement(spec("house", bpm=124))
    assert [b for b in starts_in_beats(house, "drums", KICK) if b < 4] == [0.0, 1.0, 2.0, 3.0], "four on the floor"
    trap = ENGINE.arrangement(spec("trap", bpm=140))
    assert [b for b in starts_in_beats(trap, "drums", CLAP) if b < 4] == [2.0], "half-time clap"
    rock = ENGINE.arrangement(spec("rock", bpm=120))
    assert [b for b in starts_in_beats(rock, "drums", SNARE) if b < 4] == [1.0, 3.0], "backbeat"


def test_styles_sound_different_at_the_same_tempo_and_key():
    features = {}
    for name in VARIETY_STYLES:
        rendering = ENGINE.render(spec(name, bpm=110, key="D minor", duration=4.0), lambda *_: None)
        features[name] = style_features(rendering.stems["mix"], SAMPLE_RATE)
    for (a, fa), (b, fb) in itertools.combinations(features.items(), 2):
        assert np.linalg.norm(fa - fb) > VARIETY_FLOOR, f"{a} and {b} sound alike"


@pytest.mark.parametrize(("prompt", "tonic"), [("dark techno", 2), ("pop ballad", 7), ("jazz", 9), ("reggae", 4)])
def test_minor_keys_read_minor_to_a_textbook_estimator(prompt, tonic):
    key = Key(tonic, True)
    rendering = ENGINE.render(spec(prompt, bpm=0, key=key.name, duration=12.0, seed=5), lambda *_: None)
    found = textbook_key(rendering.stems["mix"], SAMPLE_RATE)
    assert found == key, f"{found.name} for {key.name}"


def test_dorian_plays_its_raised_sixth():
    key = Key.parse("D dorian")
    arrangement = ENGINE.arrangement(spec("lofi", key=key.name))
    pitch_classes = {note.pitch % 12 for part in arrangement.parts.values() if not part.is_drum for note in part.notes}
    assert 11 in pitch_classes and 10 not in pitch_classes, "B natural (the dorian sixth), never B flat"
    rendering = ENGINE.render(spec("lofi no drums", key=key.name, duration=8.0), lambda *_: None)
    mono = librosa.resample(rendering.stems["mix"].mean(axis=1), orig_sr=SAMPLE_RATE, target_sr=22050)
    chroma = librosa.feature.chroma_cqt(y=mono, sr=22050).mean(axis=1)
    assert chroma[11] > 2 * chroma[10], "the audio sounds B, not B flat"


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
def test_varied_styles_change_every_rhythm_a_little_and_keep_its_shape(style):
    """What a redone stem or a repainted section is composed from: each rhythm string of the style
    changes in a few steps (a walking bass is random already), keeps its length, and the same
    generator seed gives the same variant."""
    first, again = varied(style, np.random.default_rng(4)), varied(style, np.random.default_rng(4))
    assert first == again and first != varied(style, np.random.default_rng(5))
    rhythms = [(style.bass.rhythm, first.bass.rhythm), (style.chords.rhythm, first.chords.rhythm)]
    rhythms += [(style.groove[note], first.groove[note]) for note in style.groove]
    for old, new in rhythms:
        assert len(new) == len(old)
        if "W" not in old:
            assert new != old
            assert sum(a != b for a, b in zip(old, new, strict=True)) <= len(old) // 2
    accents = {note: [i for i, step in enumerate(rhythm) if step == "X"] for note, rhythm in style.groove.items()}
    assert all(first.groove[note][i] == "X" for note, steps in accents.items() for i in steps)
