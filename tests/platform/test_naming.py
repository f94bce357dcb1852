"""The shared name and id rules, which the services enforce and the OpenAPI document states."""

from __future__ import annotations

import re

import pytest

from beatflow_audio.theory import Key
from beatflow_platform import naming

SHA = "a" * 64


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (naming.UUID, "0f8fad5b-d9cb-469f-a165-70867728950e", ["0f8fad5bd9cb469fa16570867728950e", "../x"]),
        (naming.SHA256, SHA, [SHA.upper(), SHA[:-1], SHA + "a"]),
        (naming.USERNAME, "dj-kate_9", ["Kate", "-kate", "ka", "k" * 33, "kate smith"]),
        (naming.EMAIL, "kate@example.com", ["kate", "kate@example", "ka te@example.com", "k\x00@example.com"]),
        (naming.REPOSITORY_NAME, "Summer Tape 2.0", [" Summer", "Summer ", "", "../../etc", "x" * 101]),
        (naming.STEM_NAME, "lead-vocals_2", ["Lead", "-lead", "a/b", ""]),
        (
            naming.REF_NAME,
            "feature/drum-fill.v2",
            ["", "-x", ".x", "x.", "x/", "a..b", "a//b", "a/.b", "has space", "a~1", "a:b", "a@{1}", "../main"],
        ),
        (naming.TEXT, "any words, 'quotes'; DROP TABLE x; -- 名前", ["nul\x00inside"]),
        (naming.NON_BLANK_TEXT, " lo-fi beat ", ["", "   ", "\t\n", "\x00"]),
    ],
)
def test_patterns_accept_and_reject(pattern, good, bad):
    assert naming.matches(pattern, good)
    for value in bad:
        assert not naming.matches(pattern, value), value


@pytest.mark.parametrize("pattern", [naming.UUID, naming.SHA256, naming.USERNAME, naming.STEM_NAME, naming.REF_NAME])
def test_a_trailing_newline_never_passes(pattern):
    # Python's `$` matches before a final newline; `matches` must not.
    example = {naming.UUID: "0f8fad5b-d9cb-469f-a165-70867728950e", naming.SHA256: SHA}.get(pattern, "main")
    assert naming.matches(pattern, example)
    assert re.match(pattern, example + "\n"), "the pitfall this test guards against"
    assert not naming.matches(pattern, example + "\n")


@pytest.mark.parametrize(
    ("spelling", "tonic", "minor"),
    [
        ("A minor", 9, True),
        ("F#m", 6, True),
        ("Bb", 10, False),
        ("c maj", 0, False),
        ("D\u266f min", 3, True),
        (" e  Minor ", 4, True),
        ("Cb major", 11, False),
    ],
)
def test_key_signatures_parse_to_pitch_classes(spelling, tonic, minor):
    assert naming.matches(naming.KEY_SIGNATURE, spelling)
    assert Key.parse(spelling) == Key(tonic, minor)


@pytest.mark.parametrize(
    ("spelling", "name", "scale"),
    [
        ("C# dorian", "C# dorian", (0, 2, 3, 5, 7, 9, 10)),
        ("g Mixolydian", "G mixolydian", (0, 2, 4, 5, 7, 9, 10)),
        ("F lydian", "F lydian", (0, 2, 4, 6, 7, 9, 11)),
        ("Eb PHRYGIAN", "D# phrygian", (0, 1, 3, 5, 7, 8, 10)),
    ],
)
def test_key_signatures_with_church_modes(spelling, name, scale):
    assert naming.matches(naming.KEY_SIGNATURE, spelling)
    key = Key.parse(spelling)
    assert (key.name, key.scale) == (name, scale)
    assert key.minor == (scale[2] == 3)
    assert Key.parse(key.name) == key


@pytest.mark.parametrize("spelling", ["H minor", "AB", "A dorien", "A minor dorian", "", "A minor\n!"])
def test_what_is_not_a_key(spelling):
    with pytest.raises(ValueError):
        Key.parse(spelling)
