"""Seeded variants of a style's rhythms, for the creative operations that regenerate material.

A composed melody already changes with the seed, but grooves, bass lines and comping follow the
style's fixed rhythm strings; a redone bass or a repainted section draws its rhythms from these
variants instead, so a new seed gives new notes in the same style. New pieces never use them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from beatflow_generator.engines.procedural.styles import Part, Style

CHANGE_SHARE = 0.25  # chance that a step changes
DRUM_HITS, BASS_TONES, COMPING_HITS, ARPEGGIO = "xo", "R5O3", "Xx", "a"


def varied(style: Style, rng: np.random.Generator) -> Style:
    """`style` with every rhythm changed in a few steps (each in one step at least)."""

    def drums(rhythm: str) -> str:
        return vary_rhythm(rhythm, DRUM_HITS, rng, add="o", keep="X")  # ghost notes come and go; accents stay

    def part(value: Part, choices: str) -> Part:
        if not value.rhythm:
            return value
        return dataclasses.replace(value, rhythm=vary_rhythm(value.rhythm, choices, rng))

    def comping(value: Part) -> Part:
        return part(value, ARPEGGIO if ARPEGGIO in value.rhythm else COMPING_HITS)

    return dataclasses.replace(
        style,
        groove={note: drums(rhythm) for note, rhythm in style.groove.items()},
        fill={note: drums(rhythm) for note, rhythm in style.fill.items()},
        bass=part(style.bass, BASS_TONES),
        chords=comping(style.chords),
        melody=comping(style.melody),
        extras={name: comping(extra) for name, extra in style.extras.items()},
        melody_density=float(np.clip(style.melody_density + rng.uniform(-0.15, 0.15), 0.2, 0.9)),
    )


def vary_rhythm(rhythm: str, choices: str, rng: np.random.Generator, *, add: str = "", keep: str = "") -> str:
    """Every step but the first, the held ones (`-`) and those in `keep` may change: a rest starts
    a note (`add`, or one of `choices`), a note becomes another of `choices` or a rest. A rhythm
    of held notes only gets new hits on held beats. A walking bass (`W`) is random already and stays."""
    if "W" in rhythm:
        return rhythm
    changeable = [index for index in range(1, len(rhythm)) if rhythm[index] not in "-" + keep]
    changeable = changeable or [index for index in range(4, len(rhythm), 4) if rhythm[index] == "-"]
    if not changeable:
        return rhythm
    steps = list(rhythm)
    while "".join(steps) == rhythm:
        for index in changeable:
            if rng.random() >= CHANGE_SHARE:
                continue
            if rhythm[index] in ".-":
                steps[index] = add or str(rng.choice(list(choices)))
            else:
                steps[index] = str(rng.choice(list(choices.replace(rhythm[index], "") + ".")))
    return "".join(steps)
