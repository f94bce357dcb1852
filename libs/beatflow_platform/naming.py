"""Names for the shapes and limits of ids, names, free text and commit fields, and what the
contracts cannot say.

The shapes and limits themselves are protovalidate rules in the .proto files (every service
enforces them with one interceptor, the gateway's OpenAPI document is derived from them); the
constants here are read from those rules, for code that needs them by name. What stays here is
what a rule cannot state alike for every engine that reads it: the Unicode character classes of
display and stem names (from this Python's Unicode database, the one the services check names
with), NFC normalisation and the key that makes two names the same name.

Patterns are anchored and use only syntax that Python `re`, RE2, pydantic-core (Rust regex) and
JSON Schema (ECMA-262) read alike (whitespace is spelled out as space, tab, CR, LF, FF and VT: the
class `s` differs, Python and Rust include U+0085, ECMA-262 does not). Match them with `fullmatch`
(`$` alone would let a trailing newline through in Python). Each pattern has a `*_RULE`: what error
messages say, in words, for people who should never have to read a regex (`RULE_WORDS` finds it
by pattern).
"""

from __future__ import annotations

import re
import unicodedata

from beatflow.auth.v1 import auth_pb2
from beatflow.generator.v1 import generator_pb2
from beatflow.vcs.v1 import blobs_pb2, repositories_pb2, version_control_pb2
from beatflow_platform import character_classes
from beatflow_platform.grpc.field_rules import numeric_rules, repeated_rules, string_rules

# protovalidate's `string.uuid` rule, spelled as a pattern for the engines that need one.
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UUID_RULE = "a UUID: 32 hexadecimal digits grouped 8-4-4-4-12, e.g. 123e4567-e89b-12d3-a456-426614174000"
# Blobs and commits are addressed by the sha256 of their content.
SHA256 = string_rules(blobs_pb2.GetBlobRequest, "blob_id").pattern
SHA256_RULE = "a sha256 id: 64 lowercase hexadecimal digits"
_USERNAME = string_rules(auth_pb2.RegisterRequest, "username")
USERNAME = _USERNAME.pattern
USERNAME_RULE = "3 to 32 characters: lowercase letters, digits, '-' and '_', not first"
_EMAIL = string_rules(auth_pb2.RegisterRequest, "email")
EMAIL = _EMAIL.pattern
EMAIL_RULE = "an email address such as name@example.com"
MAX_EMAIL_LENGTH = _EMAIL.max_len


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
# Counted once NFC-normalised (what is stored), which no rule on the field as sent can say.
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
MAX_STEM_NAME_LENGTH = string_rules(version_control_pb2.StemInput, "name").max_len
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
_REF = string_rules(version_control_pb2.CreateBranchRequest, "name")
REF_NAME = _REF.pattern
MAX_REF_LENGTH = _REF.max_len
REF_NAME_RULE = f"letters, digits, '-' and '_' in segments joined by '/' or '.', at most {MAX_REF_LENGTH} characters"
# A key signature as musicians write it: "A minor", "F#m", "Bb", "c maj", "C# dorian" (groups:
# letter, accidental, mode word).
_KEY_SIGNATURE = string_rules(version_control_pb2.CreateCommitRequest, "key_signature")
KEY_SIGNATURE = _KEY_SIGNATURE.pattern
KEY_SIGNATURE_RULE = "a key such as 'A minor', 'F#m', 'Bb' or 'C dorian'"
MAX_KEY_SIGNATURE_LENGTH = _KEY_SIGNATURE.max_len
# Free text: anything PostgreSQL text can hold, i.e. no NUL character.
TEXT = string_rules(version_control_pb2.CreateTagRequest, "message").pattern
TEXT_RULE = "text without NUL characters"
# Free text that must say something: at least one visible character.
NON_BLANK_TEXT = string_rules(version_control_pb2.CreateCommitRequest, "message").pattern
NON_BLANK_TEXT_RULE = "text with at least one visible character and no NUL characters"
_PASSWORD = string_rules(auth_pb2.RegisterRequest, "password")
MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = _PASSWORD.min_len, _PASSWORD.max_len
MAX_DISPLAY_NAME_LENGTH = string_rules(auth_pb2.RegisterRequest, "display_name").max_len
MAX_MESSAGE_LENGTH = string_rules(version_control_pb2.CreateCommitRequest, "message").max_len
MAX_DESCRIPTION_LENGTH = string_rules(repositories_pb2.CreateRepositoryRequest, "description").max_len
MAX_GENRE_LENGTH = string_rules(repositories_pb2.CreateRepositoryRequest, "genre").max_len
MAX_REQUEST_ID_LENGTH = string_rules(repositories_pb2.CreateRepositoryRequest, "request_id").max_len
MAX_STEMS_PER_COMMIT = repeated_rules(version_control_pb2.CreateCommitRequest, "stems").max_items
# What to generate: a prompt, a mood, a tempo (0 lets the engine choose) and a length (whose
# upper bound depends on the engine).
_GENERATION = generator_pb2.GenerationParams
MAX_PROMPT_LENGTH = string_rules(_GENERATION, "prompt").max_len
MAX_MOOD_LENGTH = string_rules(_GENERATION, "mood").max_len
MIN_GENERATION_BPM, MAX_GENERATION_BPM = numeric_rules(_GENERATION, "bpm").gte, numeric_rules(_GENERATION, "bpm").lte
MIN_GENERATION_SECONDS = numeric_rules(_GENERATION, "duration_seconds").gte
# A commit's tempo: 0 (unknown) or 1 to this.
MAX_COMMIT_BPM = numeric_rules(version_control_pb2.CreateCommitRequest, "bpm").lte
# Diff pictures: each side 0 (the default size) or this many pixels.
_PICTURE = version_control_pb2.GetDiffPictureRequest
MIN_PICTURE_PIXELS = numeric_rules(_PICTURE, "width").gte
MAX_PICTURE_WIDTH, MAX_PICTURE_HEIGHT = numeric_rules(_PICTURE, "width").lte, numeric_rules(_PICTURE, "height").lte
# The words for each pattern a rule states, for error messages (`grpc.validation`).
RULE_WORDS = {
    pattern: words
    for pattern, words in (
        (SHA256, SHA256_RULE),
        (USERNAME, USERNAME_RULE),
        (EMAIL, EMAIL_RULE),
        (REF_NAME, REF_NAME_RULE),
        (KEY_SIGNATURE, KEY_SIGNATURE_RULE),
        (TEXT, TEXT_RULE),
        (NON_BLANK_TEXT, NON_BLANK_TEXT_RULE),
    )
}


def or_empty(pattern: str) -> str:
    """The pattern, or the empty string (which the services read as "the default")."""
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})?$"


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
