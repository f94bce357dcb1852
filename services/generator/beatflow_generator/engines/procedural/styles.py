"""The style table: per style its tempo range, groove, bass line, comping, harmony and instruments.

Rhythms are written as one bar of sixteenth-note steps, one character per step:
- drums: `X` accent, `x` hit, `o` ghost note, `.` rest (a 32-character string spans two bars);
- bass: `R` root, `5` fifth, `3` third, `7` seventh, `O` root an octave up, `A` chromatic
  approach to the next bar's root, `W` a walking line (root, chord tones, approach), `-` holds
  the previous note, `.` rest;
- comping: `X` the chord, `x` the chord softer, `a` the next chord tone of an arpeggio,
  `-` holds, `.` rest.
Chord progressions are scale degrees, one chord per bar (0 = the tonic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# General MIDI drum notes.
KICK, RIM, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 36, 37, 38, 39, 42, 44, 46, 49, 51
LOW_TOM, HIGH_TOM, TAMBOURINE, COWBELL, MUTE_CONGA, OPEN_CONGA, SHAKER = 45, 50, 54, 56, 62, 63, 70
# General MIDI drum kits (bank 128 presets in the soundfont).
STANDARD_KIT, ROOM_KIT, ELECTRONIC_KIT, JAZZ_KIT, BRUSH_KIT, ORCHESTRA_KIT = 0, 8, 24, 32, 40, 48


@dataclass(frozen=True)
class Part:
    """A pitched stem: its General MIDI program, rhythm, register and loudness."""

    program: int
    rhythm: str
    octave: int  # the octave its lowest chord tone (or the bass root) sits in
    velocity: int = 80
    voices: int = 3  # chord tones sounded: 1 a line, 2 a dyad, 3 a triad, 4 a seventh chord, 5 a ninth


@dataclass(frozen=True)
class Style:
    name: str
    names: tuple[str, ...]  # words and phrases in a prompt that ask for it
    bpm_range: tuple[int, int]
    minor_share: float  # how often its key is minor when the mood does not say
    kit: int | None  # None: no drums
    groove: dict[int, str]  # drum note -> steps
    swing: float  # delay of off-beat sixteenths (or eighths when `swing_eighths`), as a fraction of one
    bass: Part
    chords: Part
    melody: Part
    major_progressions: tuple[tuple[int, ...], ...]
    minor_progressions: tuple[tuple[int, ...], ...]
    extras: dict[str, Part] = field(default_factory=dict)  # further stems, by name
    melody_density: float = 0.5  # share of eighth-note slots that start a melody note
    swing_eighths: bool = False
    fill: dict[int, str] = field(default_factory=dict)  # a groove variant for each fourth bar
    crash_every: int = 0  # bars between crash cymbals on the downbeat (0: none)


FOUR_ON_FLOOR = "X...X...X...X..."
BACKBEAT = "....X.......X..."
EIGHTHS = "X.x.X.x.X.x.X.x."
SIXTEENTHS = "xxxxxxxxxxxxxxxx"
OFFBEATS = "..x...x...x...x."
POP_MAJOR = ((0, 4, 5, 3), (0, 3, 4, 0), (0, 3, 0, 4), (0, 5, 3, 4))
POP_MINOR = ((0, 5, 3, 4), (0, 3, 4, 0), (0, 5, 4, 0), (0, 3, 5, 4))

STYLES = (
    Style(
        "house",
        ("house", "deep house", "edm", "dance", "disco", "garage"),
        (120, 126),
        0.5,
        ELECTRONIC_KIT,
        {KICK: FOUR_ON_FLOOR, CLAP: BACKBEAT, HAT: "x.x.x.x.x.x.x.x.", OPEN_HAT: OFFBEATS},
        0.0,
        Part(39, "..R-..R-..R-..O-", 2, 95, 1),
        Part(0, "..X-..X-..X-..X-", 4, 70, 3),
        Part(80, "", 5, 60, 1),
        ((0, 3, 0, 4), (0, 5, 3, 4), (0, 0, 3, 4)),
        ((0, 5, 3, 4), (0, 3, 4, 0), (0, 5, 0, 4)),
        melody_density=0.45,
        crash_every=8,
    ),
    Style(
        "techno",
        ("techno", "electronic", "industrial", "rave", "minimal"),
        (126, 136),
        0.85,
        ELECTRONIC_KIT,
        {KICK: FOUR_ON_FLOOR, CLAP: BACKBEAT, HAT: SIXTEENTHS, OPEN_HAT: OFFBEATS, RIM: "...x.....x....x."},
        0.0,
        Part(39, ".RRR.RR3.RRR.RR3", 2, 90, 1),
        Part(90, "X-..........x...", 4, 60, 3),
        Part(81, "aaa.aa.aaaa.a.a.", 5, 55, 1),
        ((0, 0, 3, 4),),
        ((0, 0, 5, 4), (0, 3, 0, 4)),
        melody_density=0.0,
    ),
    Style(
        "hiphop",
        ("hip hop", "hiphop", "boom bap", "boombap", "rap"),
        (86, 96),
        0.6,
        STANDARD_KIT,
        {KICK: "X......X..X.....", SNARE: BACKBEAT, HAT: "X.o.X.o.X.o.X.o.", OPEN_HAT: "..............x."},
        0.12,
        Part(33, "R-.....R.-R-....", 2, 100, 1),
        Part(4, "X-------..x-----", 4, 70, 4),
        Part(11, "", 5, 75, 1),
        ((0, 5, 3, 4), (0, 3, 0, 4), (0, 3, 1, 4)),
        POP_MINOR,
        melody_density=0.4,
        fill={SNARE: "....X.......X.xo"},
    ),
    Style(
        "trap",
        ("trap", "drill", "808s"),
        (132, 150),
        0.9,
        ELECTRONIC_KIT,
        {
            KICK: "X.........X.....X.......X.......",
            CLAP: "........X.......",
            HAT: "XxxxXxxxXxxxXxxxXxxxXxxxXxxxXxXx",
            OPEN_HAT: "..............x.",
        },
        0.0,
        Part(39, "R---------R-----R-------R-------", 2, 110, 1),
        Part(89, "X---------------", 4, 50, 3),
        Part(10, "", 5, 70, 1),
        ((0, 5, 3, 4),),
        ((0, 5, 0, 4), (0, 3, 5, 4), (0, 0, 5, 4)),
        melody_density=0.35,
    ),
    Style(
        "lofi",
        ("lofi", "lo fi", "chillhop", "study"),
        (72, 88),
        0.5,
        BRUSH_KIT,
        {KICK: "X.......X.x.....", SNARE: BACKBEAT, HAT: "x.x.x.x.x.x.x.xx"},
        0.22,
        Part(33, "R--.....R-.5....", 2, 95, 1),
        Part(4, "X-------x-------", 4, 65, 4),
        Part(73, "", 5, 70, 1),
        ((0, 5, 1, 4), (0, 3, 0, 4), (0, 0, 3, 4)),
        ((0, 3, 4, 0), (0, 5, 3, 4)),
        melody_density=0.35,
    ),
    Style(
        "dnb",
        ("drum and bass", "drum & bass", "drum n bass", "dnb", "jungle", "liquid"),
        (168, 176),
        0.7,
        STANDARD_KIT,
        {
            KICK: "X.........X.....X.........X..x..",
            SNARE: "....X.......X.......X.......X..o",
            HAT: EIGHTHS,
            RIDE: "..x...x...x...x.",
        },
        0.0,
        Part(39, "R-------R--.5---", 2, 100, 1),
        Part(89, "X---------------", 4, 55, 3),
        Part(81, "", 5, 55, 1),
        ((0, 5, 3, 4),),
        ((0, 5, 3, 4), (0, 3, 4, 0)),
        melody_density=0.3,
        crash_every=8,
    ),
    Style(
        "reggae",
        ("reggae", "dub", "ska", "skank", "rocksteady", "one drop"),
        (70, 84),
        0.4,
        ROOM_KIT,
        {KICK: "........X.......", RIM: "........X.......", HAT: "x.x.x.x.x.x.x.x."},
        0.1,
        Part(33, "R-.R--5-O-.5-3-.", 2, 100, 1),
        Part(27, "....X.......X...", 4, 85, 3),
        Part(16, "", 5, 65, 1),
        ((0, 3, 4, 3), (0, 4, 3, 0), (0, 3, 0, 4)),
        ((0, 3, 0, 4), (0, 5, 3, 4)),
        extras={"organ": Part(16, "......X-......X-", 4, 55, 3)},
        melody_density=0.3,
    ),
    Style(
        "funk",
        ("funk", "funky", "slap"),
        (96, 112),
        0.4,
        STANDARD_KIT,
        {
            KICK: "X.....X...X..X..",
            SNARE: "....X..o.o..X..o",
            HAT: "xxXxxxXxxxXxxxXx",
        },
        0.08,
        Part(36, "R..O..R.5.R.RO.3", 2, 105, 1),
        Part(28, "x.x.X.x..x.xX.x.", 4, 70, 4),
        Part(61, "", 5, 70, 1),
        ((0, 3, 0, 3), (0, 0, 3, 4), (0, 5, 1, 4)),
        ((0, 3, 0, 3), (0, 0, 3, 4)),
        extras={"brass": Part(61, "......X.......X.", 4, 85, 3)},
        melody_density=0.4,
        fill={SNARE: "....X..o.o..XoXX"},
    ),
    Style(
        "jazz",
        ("jazz", "swing", "bebop", "jazzy", "trio"),
        (110, 170),
        0.3,
        JAZZ_KIT,
        {RIDE: "X...X.x.X...X.x.", PEDAL_HAT: BACKBEAT, KICK: "o...o...o...o...", SNARE: "..........o....."},
        1 / 3,  # swung eighths: the off-beat on the last triplet
        Part(32, "W---W---W---W---", 2, 95, 1),
        Part(0, "......X-.......x", 4, 65, 4),
        Part(66, "", 4, 75, 1),
        ((0, 0, 1, 4), (0, 5, 1, 4), (0, 3, 1, 4)),
        ((0, 3, 1, 4), (0, 0, 1, 4), (0, 5, 1, 4)),
        melody_density=0.5,
        swing_eighths=True,
    ),
    Style(
        "bossa",
        ("bossa nova", "bossa", "samba", "brazilian"),
        (120, 140),
        0.35,
        BRUSH_KIT,
        {KICK: "X..oX..oX..oX..o", RIM: "x..x..x...x..x..", SHAKER: "XxxxXxxxXxxxXxxx", PEDAL_HAT: "X...X...X...X..."},
        0.0,
        Part(32, "R---5---R---5---", 2, 95, 1),
        Part(24, "X-.xX-.xX-.xX-.x", 3, 70, 4),
        Part(73, "", 5, 70, 1),
        ((0, 0, 1, 4), (0, 3, 1, 4)),
        ((0, 0, 3, 4), (0, 3, 1, 4)),
        melody_density=0.4,
    ),
    Style(
        "rock",
        ("rock", "indie", "punk", "metal", "grunge", "alternative"),
        (104, 144),
        0.45,
        ROOM_KIT,
        {KICK: "X.....X.X.......", SNARE: BACKBEAT, HAT: EIGHTHS},
        0.0,
        Part(34, "R-R-R-R-R-R-R-R-", 2, 100, 1),
        Part(29, "X-x-X-x-X-x-X-x-", 3, 75, 3),
        Part(30, "", 4, 70, 1),
        ((0, 4, 5, 3), (0, 3, 4, 3), (0, 6, 3, 0)),
        ((0, 5, 6, 4), (0, 3, 4, 0), (0, 5, 3, 4)),
        melody_density=0.45,
        fill={SNARE: "....X.......XXXX", HIGH_TOM: "............x...", LOW_TOM: "..............xx"},
        crash_every=4,
    ),
    Style(
        "pop",
        ("pop", "synthpop", "synthwave", "ballad", "radio"),
        (96, 124),
        0.4,
        STANDARD_KIT,
        {KICK: "X.......X.X.....", SNARE: BACKBEAT, HAT: EIGHTHS, TAMBOURINE: BACKBEAT},
        0.0,
        Part(33, "R-.R..R-R-.R..R-", 2, 95, 1),
        Part(0, "X-x-X-x-X-x-X-x-", 4, 65, 3),
        Part(81, "", 5, 65, 1),
        POP_MAJOR,
        POP_MINOR,
        melody_density=0.55,
        fill={SNARE: "....X.......X.XX"},
        crash_every=8,
    ),
    Style(
        "ambient",
        ("ambient", "drone", "atmospheric", "meditation", "new age"),
        (60, 80),
        0.5,
        None,
        {},
        0.0,
        Part(89, "R---------------", 2, 70, 1),
        Part(91, "X---------------", 4, 50, 4),
        Part(8, "", 5, 55, 1),
        ((0, 3, 0, 4), (0, 5, 3, 0)),
        ((0, 5, 0, 3), (0, 3, 0, 4)),
        extras={"arp": Part(46, "a-a-a-a-a-a-a-a-", 4, 60, 4)},
        melody_density=0.25,
    ),
    Style(
        "cinematic",
        ("cinematic", "film", "orchestral", "soundtrack", "trailer", "score"),
        (76, 100),
        0.75,
        ORCHESTRA_KIT,
        {KICK: "X.......X.....x.", LOW_TOM: "....x.......x...", SNARE: "............x..."},
        0.0,
        Part(43, "RRRRRRRRRRRRRRRR", 2, 85, 1),
        Part(48, "X---------------", 3, 60, 4),
        Part(60, "", 4, 80, 1),
        ((0, 5, 3, 4), (0, 3, 5, 4)),
        ((0, 5, 3, 4), (0, 3, 4, 0), (0, 5, 0, 4)),
        extras={"brass": Part(61, "X-----..X-------", 3, 65, 3)},
        melody_density=0.25,
        crash_every=8,
    ),
    Style(
        "string quartet",
        ("string quartet", "quartet", "classical", "chamber", "baroque"),
        (72, 116),
        0.4,
        None,
        {},
        0.0,
        Part(42, "R---5---R---5---", 2, 85, 1),
        Part(41, "x-x-x-x-x-x-x-x-", 3, 65, 2),
        Part(40, "", 5, 85, 1),
        ((0, 3, 4, 0), (0, 5, 1, 4), (0, 3, 1, 4)),
        ((0, 3, 4, 0), (0, 5, 3, 4)),
        extras={"violin2": Part(40, "X---X---X---X---", 4, 60, 1)},
        melody_density=0.5,
    ),
    Style(
        "afrobeat",
        ("afrobeat", "afrobeats", "afro", "highlife", "amapiano"),
        (100, 116),
        0.4,
        STANDARD_KIT,
        {
            KICK: "X.....x...X..x..",
            SNARE: "....x..o....x.o.",
            HAT: "x.xxx.xxx.xxx.xx",
            COWBELL: "X.x.X..xx.X.x...",
            OPEN_CONGA: "..x..x...x.x..x.",
            MUTE_CONGA: "x...x...x...x...",
            SHAKER: SIXTEENTHS,
        },
        0.05,
        Part(33, "R..R..5.R.O..5..", 2, 100, 1),
        Part(28, ".x.x.x.x.x.x.x.x", 4, 60, 3),
        Part(56, "", 5, 70, 1),
        ((0, 3, 0, 3), (0, 0, 3, 4), (0, 5, 3, 4)),
        ((0, 3, 0, 3), (0, 3, 0, 4)),
        extras={"brass": Part(61, "X-.X-.......X-..", 4, 75, 3), "organ": Part(16, "X---X---X---X---", 4, 45, 3)},
        melody_density=0.35,
    ),
    Style(
        "gospel",
        ("gospel", "soul", "r&b", "rnb", "neo soul"),
        (68, 96),
        0.3,
        STANDARD_KIT,
        {KICK: "X......xX.......", SNARE: BACKBEAT, HAT: EIGHTHS},
        0.18,
        Part(33, "R--.....R-.3....", 2, 95, 1),
        Part(16, "X-------X-------", 4, 60, 4),
        Part(52, "", 5, 65, 1),
        ((0, 3, 0, 4), (0, 5, 1, 4)),
        ((0, 3, 4, 0), (0, 5, 1, 4)),
        extras={"piano": Part(0, "..x...x...x...x.", 4, 60, 4)},
        melody_density=0.4,
    ),
)
BY_NAME = {style.name: style for style in STYLES}
DEFAULT_STYLE = "pop"

# Progressions that make a church mode audible: each leans on the chord holding the mode's
# characteristic note (dorian's major IV, mixolydian's flat VII, lydian's major II, phrygian's flat II).
MODAL_PROGRESSIONS = {
    "dorian": ((0, 3, 0, 3), (0, 3, 4, 0)),
    "mixolydian": ((0, 6, 3, 0), (0, 6, 0, 3)),
    "lydian": ((0, 1, 0, 1), (0, 1, 4, 0)),
    "phrygian": ((0, 1, 0, 6), (0, 1, 0, 1)),
    "aeolian": ((0, 5, 6, 0), (0, 3, 6, 0)),
    "ionian": ((0, 3, 4, 0), (0, 5, 3, 4)),
    "locrian": ((0, 1, 0, 5), (0, 1, 0, 1)),
}
