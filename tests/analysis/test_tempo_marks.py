"""The bench performs a score within the tempo its marking asks for (metronome mark or tempo words)."""

from __future__ import annotations

from typing import cast

import pytest
from music21 import converter, stream

from bench.corpus import catalogue
from bench.corpus.scores import excerpt_start, meter_of
from bench.corpus.tempo_marks import abc_notes, marked_range, word_range

AIR = """X:{number}
T:Test air {number}
N:"{words}" "collected by nobody"
M:{meter}
L:1/8
{tempo}K:G
|:G2 B2 d2 B2|c2 e2 d2 B2|G2 B2 d2 B2|A4 A4|G2 B2 d2 B2|c2 e2 d2 B2|e2 d2 c2 A2|G4 G4:|
"""


def _air(number: int = 1, words: str = "Slow", meter: str = "4/4", tempo: str = "") -> str:
    return AIR.format(number=number, words=words, meter=meter, tempo=tempo)


@pytest.mark.parametrize(
    ("words", "low", "high"),
    [
        ("Very slow", 40, 60),
        ("Slow with expression", 55, 76),
        ("Tenderly", 66, 96),
        ("Moderate", 80, 112),
        ("With spirit", 104, 140),
        ("Allegro con brio", 120, 156),
        ("andante moderato", 80, 108),
    ],
)
def test_tempo_words_name_their_range(words, low, high):
    assert word_range(words) == (low, high)


def test_notes_that_are_no_tempo_words_name_none():
    for text in ("collected by F. O'Neill", "The c4 in bar 7 is probably a mistake", "breakfast at 8", ""):
        assert word_range(text) is None


def test_the_abc_notes_of_one_tune_among_many(tmp_path):
    path = tmp_path / "tunes.abc"
    path.write_text(_air(1, "Slow") + "\n" + _air(2, "With spirit"))
    assert abc_notes(path, 2).startswith("With spirit")
    assert abc_notes(path, 1).startswith("Slow")
    assert abc_notes(path, 3) == ""


def test_a_metronome_mark_counts_in_the_scores_beat_unit():
    """Q:3/8=60 over a 6/8 tune: 60 dotted quarters, the beat unit, per minute."""
    score = cast(stream.Score, converter.parse(_air(meter="6/8", tempo="Q:3/8=60\n"), format="abc"))
    beat_length, _ = meter_of(score)
    assert beat_length == 1.5
    marked = marked_range(score, excerpt_start(score), beat_length)
    assert marked is not None
    low, high = marked
    assert low < 60 < high and high - low < 0.11 * 60


def test_words_apply_where_there_is_no_metronome_mark():
    score = cast(stream.Score, converter.parse(_air(words="Slow"), format="abc"))
    assert marked_range(score, excerpt_start(score), 1.0) is None
    assert marked_range(score, excerpt_start(score), 1.0, "Slow") == (55, 76)


def test_a_marked_source_is_performed_within_its_marking_and_the_bench_range():
    source = catalogue.Source("oneills1850/0001-0050.abc", "irish air", catalogue.MELODY, 9)
    assert source.arrangement(1.0, False).bpm == source.arrangement(1.0, False, None).bpm
    assert 55 <= source.arrangement(1.0, False, (55.0, 76.0)).bpm <= 76
    # a marking outside the beat unit's range (60-180 for quarters) is brought to its nearest end
    assert source.arrangement(1.0, False, (30.0, 40.0)).bpm == 60
    assert source.arrangement(1.0, False, (250.0, 260.0)).bpm == 180
