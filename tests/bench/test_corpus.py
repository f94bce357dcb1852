"""The corpus truth is what the rendered audio plays: beats, key and chords of known scores."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from music21 import converter, corpus

import bench.corpus
from beatflow_audio import soundfont
from beatflow_audio.theory import Key
from bench.corpus import analysis_pieces, catalogue, drums
from bench.corpus.arrangement import Arrangement, seconds_per_quarter, to_midi
from bench.corpus.scores import Unusable, extract

RATE = 22050
pytestmark = pytest.mark.skipif(not soundfont.available(), reason="fluidsynth or the GM soundfont is missing")

JIG = """X:1
T:Test jig
M:6/8
L:1/8
K:G
D|"G"G2B d2B|"C"c2e "D"d2B|"G"G2B d2B|"D"A3 A2D|
"G"G2B d2B|"C"c2e "D"d2B|"Em"e2d "D"c2A|"G"G3 G2|]
"""


@pytest.fixture(scope="module")
def chorale():
    return extract(corpus.parse("bach/bwv66.6").toSoundingPitch(), 40.0, from_abc=False)


def test_chorale_key_and_meter_come_from_the_score(chorale):
    # BWV 66.6 is in F-sharp minor (three sharps, ends on F#), in 4/4; its pickup is left out.
    assert chorale.key == Key(6, True)
    assert (chorale.beat_length, chorale.beats_per_bar) == (1.0, 4)
    assert chorale.notes[0].start == 0.0
    assert chorale.length % chorale.bar_length == 0


def test_chorale_chords_agree_with_music21_chordify_where_it_sees_a_triad(chorale):
    sliced = corpus.parse("bach/bwv66.6").chordify().flatten().notes
    first_bar = 1.0  # the pickup lasts one quarter
    checked = 0
    for start, end, label in chorale.chords:
        for beat in np.arange(start, end, chorale.beat_length):
            slice_ = sliced.getElementsByOffset(beat + first_bar).first()
            if slice_ is None or not (slice_.isMajorTriad() or slice_.isMinorTriad()):
                continue
            quality = "min" if slice_.isMinorTriad() else "maj"
            assert label.split(":")[0] == librosa.midi_to_note(slice_.root().midi, octave=False, unicode=False)
            assert label.endswith(quality)
            checked += 1
    assert checked >= 20


def test_rendered_onsets_fall_on_the_truth_beats(chorale):
    bpm = 90.0
    audio = soundfont.render(to_midi(chorale, Arrangement(bpm, "piano", None, None), seed=1), RATE).mean(axis=1)
    onsets = librosa.onset.onset_detect(y=audio, sr=RATE, units="time")
    beats = chorale.beats * seconds_per_quarter(chorale, bpm)
    between = beats + (60.0 / bpm) / 3  # a third of a beat later: no note of the chorale starts there

    def heard(times: np.ndarray) -> float:
        return float(np.mean([np.min(np.abs(onsets - t)) < 0.05 for t in times]))

    assert heard(beats) >= 0.9
    assert heard(between) <= 0.3


def test_compound_meter_pickup_and_chord_symbols_of_an_abc_tune():
    jig = extract(converter.parse(JIG, format="abc"), 100.0, from_abc=True)
    assert (jig.beat_length, jig.beats_per_bar, jig.compound) == (1.5, 2, True)
    assert jig.key == Key(7, False)
    assert jig.length == 8 * 3.0 - 3.0  # the pickup and the short last bar are left out
    assert [label for _, _, label in jig.chords[:4]] == ["G:maj", "C:maj", "D:maj", "G:maj"]
    assert jig.chords[1][:2] == (3.0, 4.5)


def test_a_tune_that_does_not_end_on_its_key_is_skipped():
    with pytest.raises(Unusable, match="ends on"):
        extract(converter.parse(JIG.replace("K:G", "K:D"), format="abc"), 100.0, from_abc=True)


def test_drum_patterns_follow_the_meter():
    waltz = drums.pattern("rock", 3, False, bars=2)
    assert sorted(t for t, pitch, _ in waltz if pitch == drums.KICK) == [0.0, 3.0]
    jig = drums.pattern("light", 2, True, bars=1)
    assert sorted(t for t, pitch, _ in jig if pitch == drums.SHAKER) == pytest.approx(
        [0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3]
    )
    assert "swing" not in drums.styles_for(compound=True)


def test_a_piece_is_built_once_then_read_back_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(bench.corpus, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(catalogue, "sources", lambda: (catalogue.Source("bach/bwv66.6.mxl", "chorale", ("piano",)),))
    (piece,) = analysis_pieces()
    beat = 60.0 / piece.bpm
    assert piece.name == f"bach/bwv66.6@{piece.bpm:g}bpm" and piece.split in ("tune", "test")
    assert np.allclose(np.diff(piece.beats), beat, atol=1e-5)
    assert np.allclose(piece.downbeats, piece.beats[:: piece.beats_per_bar])
    assert piece.chords[0][0] == 0.0 and piece.chords[-1][1] == pytest.approx(piece.beats[-1] + beat)
    audio = piece.audio(RATE)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / RATE == pytest.approx(piece.beats[-1] + beat + 1.0, abs=0.6)

    def unavailable(*_args, **_kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(corpus, "parse", unavailable)
    monkeypatch.setattr(soundfont, "render", unavailable)
    assert analysis_pieces(piece.split)[0].name == piece.name
    assert analysis_pieces("tune" if piece.split == "test" else "test") == []
    assert np.array_equal(piece.audio(RATE), audio)
