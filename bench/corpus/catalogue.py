"""Which music21 corpus scores the bench uses, and how each is performed (tempo, instruments, drums).

Every choice is a fixed function of the source id (a hash), so the corpus is the same on every machine
and a piece never changes split. The tempo is drawn from a range per beat unit (and per style), narrowed
to the range the score marks where it marks one (`bench.corpus.tempo_marks`). Sources the truth rules
reject (see `bench.corpus.scores`) are dropped, and the reason is kept in the cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath

from music21 import corpus

from bench.corpus import drums
from bench.corpus.arrangement import ACCOMPANIMENTS, Arrangement

DRUM_SHARE = 0.4
CHORAL = ("choir aahs", "church organ", "strings", "brass", "woodwinds", "piano", "synth", "band")
QUARTET = ("strings", "woodwinds", "brass", "piano", "band", "synth")
KEYBOARD = ("piano", "electric piano", "harpsichord", "nylon guitar", "church organ")
SONG = ("piano", "strings", "band", "nylon guitar", "electric piano", "woodwinds")
MELODY = ("fiddle", "flute", "accordion", "steel guitar", "piano", "brass")
# Beats per minute by beat length in quarters: slow for long beats, so pieces sound like music.
TEMPO_RANGES = {0.5: (70, 180), 1.0: (60, 180), 1.5: (50, 130), 2.0: (50, 110), 3.0: (50, 90)}
STYLE_TEMPO_RANGES = {"chorale": (55, 100), "madrigal": (50, 110), "renaissance polyphony": (50, 100)}


@dataclass(frozen=True)
class Source:
    path: str  # music21 corpus path
    style: str
    ensembles: tuple[str, ...]
    number: int | None = None  # tune number (ABC `X:`) in a file of many tunes

    @property
    def id(self) -> str:
        stem = str(PurePosixPath(self.path).with_suffix(""))
        return f"{stem}#{self.number}" if self.number is not None else stem

    @property
    def from_abc(self) -> bool:
        return self.path.endswith(".abc")

    @property
    def split(self) -> str:
        return "tune" if unit(self.id, "split") < 0.5 else "test"

    def arrangement(self, beat_length: float, compound: bool, marked: tuple[float, float] | None = None) -> Arrangement:
        """How the bench performs the source; `marked` is the tempo range (bpm) the score asks for."""
        low, high = STYLE_TEMPO_RANGES.get(self.style, TEMPO_RANGES.get(beat_length, (50, 180)))
        if marked is not None:
            low, high = _within((low, high), marked)
        bpm = float(round(low + unit(self.id, "tempo") * (high - low)))
        drum_styles = drums.styles_for(compound)
        drum_style = (
            drum_styles[int(unit(self.id, "kit") * len(drum_styles))] if unit(self.id, "drums") < DRUM_SHARE else None
        )
        accompaniments = sorted(ACCOMPANIMENTS)
        return Arrangement(
            bpm=bpm,
            ensemble=self.ensembles[int(unit(self.id, "ensemble") * len(self.ensembles))],
            drum_style=drum_style,
            accompaniment=accompaniments[int(unit(self.id, "accompaniment") * len(accompaniments))],
        )


def _within(allowed: tuple[float, float], marked: tuple[float, float]) -> tuple[float, float]:
    """The part of the marked range inside the allowed one; the allowed end nearest the marking where
    the two do not overlap (a metronome mark far outside the bench's range for the beat unit)."""
    low, high = max(allowed[0], marked[0]), min(allowed[1], marked[1])
    if low <= high:
        return low, high
    nearest = allowed[0] if marked[1] < allowed[0] else allowed[1]
    return nearest, nearest


def unit(text: str, salt: str) -> float:
    """A number in [0, 1) fixed by the text."""
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _every(paths: list[str], step: int, offset: int = 0) -> list[str]:
    return paths[offset::step]


def _folk_style(path: str) -> str:
    name = PurePosixPath(path).stem
    for word, style in (("Reel", "reel"), ("Jig", "jig"), ("Hornpipe", "hornpipe"), ("Strathspey", "strathspey")):
        if word in name:
            return style
    return "fiddle tune"


@cache
def sources() -> tuple[Source, ...]:
    paths = sorted(str(p).split("/corpus/", 1)[1] for p in corpus.getCorePaths())

    def under(folder: str, suffix: str = "") -> list[str]:
        return [p for p in paths if p.startswith(folder + "/") and p.endswith(suffix)]

    chosen = [Source(p, "chorale", CHORAL) for p in _every(under("bach", ".mxl"), 9)]
    chosen += [Source(p, "string quartet", QUARTET) for p in under("haydn") + under("mozart") if "k545" not in p]
    chosen += [
        Source(p, "string quartet", QUARTET)
        for p in under("beethoven", ".mxl") + under("schumann_robert/opus41no1")
        if "opus132" not in p and "opus133" not in p
    ]
    chosen += [Source(p, "madrigal", CHORAL) for p in _every(under("monteverdi"), 4)]
    chosen += [Source(p, "renaissance polyphony", CHORAL) for p in _every(under("palestrina"), 60, 7)]
    chosen += [Source(p, _folk_style(p), MELODY) for p in _every(under("ryansMammoth"), 25, 3)]
    chosen += [Source("nottingham-dataset/reelsa-c.abc", "reel", MELODY, n) for n in (80, 81)]
    chosen += [
        Source("joplin/maple_leaf_rag.mxl", "rag", KEYBOARD),
        Source("leadSheet/berlinAlexandersRagtime.mxl", "rag", MELODY),
        Source("leadSheet/fosterBrownHair.mxl", "song", MELODY),
        Source("mozart/k545/movement1_exposition.mxl", "piano sonata", KEYBOARD),
        Source("chopin/mazurka06-2.krn", "mazurka", KEYBOARD),
        Source("cpebach/h186.mxl", "keyboard", KEYBOARD),
        Source("beach/prayer_of_a_tired_child.musicxml", "song", SONG),
        Source("schubert/Lindenbaum.xml", "song", SONG),
        Source("schumann_robert/dichterliebe_no2.xml", "song", SONG),
        Source("schumann_robert/opus48no2.mxl", "song", SONG),
        Source("liliuokalani/aloha_oe.mxl", "song", SONG),
        Source("johnson_j_r/lift_every_voice.mxl", "hymn", CHORAL),
        Source("verdi/laDonnaEMobile.mxl", "aria", SONG),
        Source("weber/concertino_clarinet.mxl", "concertino", SONG),
        Source("handel/rinaldo/Lascia_chio_pianga.mxl", "aria", SONG),
        Source("corelli/opus3no1/1grave.xml", "trio sonata", QUARTET),
        Source("lusitano/allor_che_ignuda.mxl", "madrigal", CHORAL),
        Source("schumann_clara/opus17/movement3.xml", "piano trio", QUARTET),
    ]
    chosen += [Source(p, "polonaise", KEYBOARD) for p in under("schumann_clara") if "polonaise" in p]
    chosen += [Source(p, "chorale", CHORAL) for p in _every(under("bach", ".mxl"), 18, 4)]
    chosen += [Source("oneills1850/0001-0050.abc", "irish air", MELODY, n) for n in range(1, 51, 2)]
    chosen += [Source("oneills1850/0051-0100.abc", "irish air", MELODY, n) for n in range(52, 101, 4)]
    return tuple(chosen)
