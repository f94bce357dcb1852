"""Sets of Unicode characters as regex bracket expressions that Python `re`, Rust regex (pydantic-core)
and ECMA-262 with the `u` flag (as JSON Schema validators compile patterns) read alike.

The sets come from this Python's Unicode database, the one the services check names with, so that no
character is allowed by the OpenAPI document and refused by a service, or the other way round.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable

# Letters, marks, numbers, punctuation and symbols: no controls, format characters (zero-width joiners,
# bidi overrides), surrogates, private use, unassigned code points or separators (spaces are added where
# wanted). In code point order. Planes 4-13 are unassigned and 15-16 private use: they are not scanned.
GRAPHIC: dict[str, str] = {
    character: category
    for character in map(chr, (*range(0x40000), *range(0xE0000, 0xF0000)))
    if (category := unicodedata.category(character))[0] in "LMNPS"
}
# The few graphic characters that NFC writes otherwise ("\u037e", the Greek question mark, becomes ';').
_NFC_OF = {character: unicodedata.normalize("NFC", character) for character in GRAPHIC}
_NFC_OF = {character: nfc for character, nfc in _NFC_OF.items() if nfc != character}


def graphic(allowed: Callable[[str, str], bool]) -> list[str]:
    """The graphic characters that `allowed(character, category)` accepts, in code point order, less those
    whose NFC form it refuses: a name made of them stays a valid name once the services normalise it."""
    chosen = [character for character, category in GRAPHIC.items() if allowed(character, category)]
    members = set(chosen)
    return [character for character in chosen if all(part in members for part in _NFC_OF.get(character, ""))]


def bracket(characters: Iterable[str]) -> str:
    """`[...]` of `characters` (in code point order) as ranges: BMP characters as \\uXXXX, others as themselves
    (ECMA-262 reads a character beyond the BMP as one only with the `u` flag)."""
    ranges: list[list[int]] = []
    for code_point in map(ord, characters):
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1][1] = code_point
        else:
            ranges.append([code_point, code_point])

    def spell(code_point: int) -> str:
        return f"\\u{code_point:04X}" if code_point <= 0xFFFF else chr(code_point)

    return "[" + "".join(spell(low) if low == high else f"{spell(low)}-{spell(high)}" for low, high in ranges) + "]"
