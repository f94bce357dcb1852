"""The shapes and limits of ids, names, free text and commit fields: one definition for the
services that enforce them and for the gateway, whose OpenAPI document states them to clients.

Patterns are anchored and use only syntax that Python `re`, pydantic-core (Rust regex) and
JSON Schema (ECMA-262) read alike. Match them with `fullmatch` (`$` alone would let a trailing
newline through in Python). Each pattern has a `*_RULE`: what error messages say, in words, for
people who should never have to read a regex.
"""

from __future__ import annotations

import re
import unicodedata

from beatflow_sdk import ids

from beatflow_platform import character_classes

# Whitespace as every regex engine here reads it (`\s` differs: Python and Rust include U+0085,
# ECMA-262 does not).
_SPACE = r" \t\n\r\f\v"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UUID_RULE = "a UUID: 32 hexadecimal digits grouped 8-4-4-4-12, e.g. 123e4567-e89b-12d3-a456-426614174000"
# Blobs and commits are addressed by the sha256 of their content (the client SDK's pattern).
SHA256 = ids.SHA256_ID
SHA256_RULE = "a sha256 id: 64 lowercase hexadecimal digits"
USERNAME = r"^[a-z0-9][a-z0-9_-]{2,31}$"
USERNAME_RULE = "3 to 32 characters: lowercase letters, digits, '-' and '_', not first"
EMAIL = rf"^[^@{_SPACE}\x00]{{1,64}}@[^@{_SPACE}\x00]+\.[^@{_SPACE}\x00]{{2,}}$"
EMAIL_RULE = "an email address such as name@example.com"
MAX_EMAIL_LENGTH = 254


def _bounded(first: list[str], middle: list[str], last: list[str], length: int) -> str:
    """1 to `length` characters: one of `first`, then any of `middle` and one of `last`."""
    first_class, middle_class, last_class = (character_classes.bracket(c) for c in (first, middle, last))
    return f"^{first_class}(?:{middle_class}{{0,{length - 2}}}{last_class})?$"


def _with_space(characters: list[str]) -> list[str]:
    return [" ", *characters]


# Display names: what people call a repository, in any script ("Café del Mar", "夏の終わり", "'Round
# Midnight", "B♭ Blues (live)"). Of ASCII punctuation only what titles use: the rest (quotes, '/', '\\',
# ';', '$', '<', '=', '|', ...) is syntax somewhere a name travels (file names, shells, HTML, CSV). Spaces
# only inside. The services store names NFC-normalised and check the normalised form; the limit of
# characters also bounds the bytes (at most four per character in UTF-8).
_TITLE_ASCII_PUNCTUATION = "!#%&'()+,-.:?@_"
_TITLE_CHARACTERS = character_classes.graphic(
    lambda character, category: (
        category[0] in "LMN"
        or (category[0] in "PS" and (ord(character) > 0x7F or character in _TITLE_ASCII_PUNCTUATION))
    )
)
MAX_REPOSITORY_NAME_LENGTH = 100
REPOSITORY_NAME = _bounded(
    [c for c in _TITLE_CHARACTERS if character_classes.GRAPHIC[c][0] != "M" and c not in ".-"],
    _with_space(_TITLE_CHARACTERS),
    _TITLE_CHARACTERS,
    MAX_REPOSITORY_NAME_LENGTH,
)
REPOSITORY_NAME_RULE = (
    f"1 to {MAX_REPOSITORY_NAME_LENGTH} characters: letters, digits and spaces of any script, the punctuation "
    f"{' '.join(_TITLE_ASCII_PUNCTUATION)} and other punctuation or symbols beyond ASCII (such as ¿ « » ♭ ♯ ♪); "
    "no control or invisible formatting characters; not starting with a space, '.', '-' or an accent, "
    "not ending with a space"
)
# Stem names are keys (of a commit's tree, and of `mute=`, `solo=` and `gain.<stem>=` in URLs): lowercase
# or caseless letters of any script ("gesang", "ボーカル") so that "Vocals" and "vocals" cannot both be
# stems, and no ',' (the separator of mute and solo lists) or '.' (which ends `gain.`).
_STEM_CHARACTERS = character_classes.graphic(
    lambda character, category: (category[0] in "LMN" or character in "-_") and character.lower() == character
)
MAX_STEM_NAME_LENGTH = 64
STEM_NAME = _bounded(
    [c for c in _STEM_CHARACTERS if character_classes.GRAPHIC[c][0] in "LN"],
    _with_space(_STEM_CHARACTERS),
    _STEM_CHARACTERS,
    MAX_STEM_NAME_LENGTH,
)
STEM_NAME_RULE = (
    f"1 to {MAX_STEM_NAME_LENGTH} characters: lowercase or caseless letters of any script, digits, "
    "'-', '_' and spaces; starting with a letter or digit, not ending with a space"
)
# Branch and tag names: segments of letters, digits, '-' and '_' joined by '/' or '.'
# ("feature/drums", "v1.2"); so no "..", "//", spaces or leading, trailing separators.
REF_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_-]*(?:[./][A-Za-z0-9_-]+)*$"
REF_NAME_RULE = "letters, digits, '-' and '_' in segments joined by '/' or '.', at most 100 characters"
MAX_REF_LENGTH = 100


def _any_case(word: str) -> str:
    """'min' -> '[Mm][Ii][Nn]': case-insensitive without flags, which not every regex engine here reads alike."""
    return "".join(f"[{letter.upper()}{letter}]" for letter in word)


# A key signature as musicians write it: "A minor", "F#m", "Bb", "c maj", "C# dorian" (groups:
# letter, accidental, mode word).
_KEY_MODE_WORDS = ("mixolydian", "phrygian", "aeolian", "locrian", "dorian", "ionian", "lydian")
_KEY_MODE_WORDS += ("major", "minor", "maj", "min", "m")
KEY_SIGNATURE = (
    rf"^[{_SPACE}]*([A-Ga-g])([#b\u266f\u266d]?)[{_SPACE}]*"
    rf"({'|'.join(_any_case(word) for word in _KEY_MODE_WORDS)})?[{_SPACE}]*$"
)
KEY_SIGNATURE_RULE = "a key such as 'A minor', 'F#m', 'Bb' or 'C dorian'"
MAX_KEY_SIGNATURE_LENGTH = 40
# Free text: anything PostgreSQL text can hold, i.e. no NUL character.
TEXT = r"^[^\x00]*$"
TEXT_RULE = "text without NUL characters"
# Free text that must say something: at least one visible character.
NON_BLANK_TEXT = rf"^[^\x00]*[^{_SPACE}\x00][^\x00]*$"
NON_BLANK_TEXT_RULE = "text with at least one visible character and no NUL characters"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MAX_DISPLAY_NAME_LENGTH = 100
MAX_MESSAGE_LENGTH = 4096
MAX_DESCRIPTION_LENGTH = 2000
MAX_GENRE_LENGTH = 64
MAX_REQUEST_ID_LENGTH = 128
MAX_STEMS_PER_COMMIT = 64
# What to generate: a prompt, a mood, a tempo (0 lets the engine choose) and a length (whose
# upper bound depends on the engine).
MAX_PROMPT_LENGTH = 1000
MAX_MOOD_LENGTH = 64
MIN_GENERATION_BPM, MAX_GENERATION_BPM = 60, 300
MIN_GENERATION_SECONDS = 5.0
# A commit's tempo: 0 (unknown) or 1 to this.
MAX_COMMIT_BPM = 999.0
# Diff pictures: each side 0 (the default size) or this many pixels.
MIN_PICTURE_PIXELS, MAX_PICTURE_WIDTH, MAX_PICTURE_HEIGHT = 200, 4000, 2000


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def normalized_name(value: str) -> str:
    """A name as the services store it: Unicode NFC, so that "Cafe\u0301" and "Café" are one name."""
    return unicodedata.normalize("NFC", value)


def name_key(value: str) -> str:
    """What makes two names the same name: NFKC with case folding (Unicode's NFKC_Casefold, up to its
    handling of default-ignorable characters, which names cannot hold), so "Café", "CAFE\u0301" and
    "ｃａｆé" are one key. Unicode's stability policies keep it fixed for assigned characters."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
