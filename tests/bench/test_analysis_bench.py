"""The analysis bench scores an analyser against the corpus truth, with the baselines beside it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import bench.corpus
from beatflow_audio import soundfont
from bench import analysis
from bench.corpus import analysis_pieces, catalogue

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="fluidsynth or the GM soundfont is missing")


@pytest.fixture(scope="module")
def chorale(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench.corpus, "CACHE_DIR", tmp_path_factory.mktemp("corpus"))
        patch.setattr(
            catalogue, "sources", lambda: (catalogue.Source("bach/bwv66.6.mxl", "chorale", ("church organ",)),)
        )
        (piece,) = analysis_pieces()
        piece.audio(analysis.RATE)  # rendered into the temporary cache while it is in place
        yield piece


def _analyser_that_knows(piece, *, bpm: float, key, confidence: float = 0.9):
    chords = [SimpleNamespace(start=s, end=e, label=label) for s, e, label in piece.chords if label != "X"]
    rhythm = SimpleNamespace(
        beat_times=list(piece.beats),
        downbeat_times=list(piece.downbeats),
        beats_per_bar=piece.beats_per_bar,
        bpm_weight=0.8,
    )
    return lambda samples, rate: SimpleNamespace(
        bpm=bpm, key=key, rhythm=rhythm, tonality=SimpleNamespace(confidence=confidence), chords=chords
    )


def test_an_analyser_that_hears_the_truth_scores_one_and_the_naive_anchor_less(chorale, monkeypatch):
    monkeypatch.setattr(analysis, "analyse", _analyser_that_knows(chorale, bpm=chorale.bpm, key=chorale.key))
    figures = analysis.score([chorale])
    for name in (
        "tempo_acc1",
        "tempo_acc2",
        "tempo_acc1_no_drums",
        "key_weighted_score",
        "key_exact",
        "beat_f_measure",
        "downbeat_f_measure",
        "meter_accuracy",
        "meter_exact_accuracy",
        "chord_majmin_accuracy",
    ):
        assert figures[name] == 1.0, name
    assert np.isnan(figures["tempo_acc1_drums"]) and np.isnan(figures["key_confidence_auc"])
    assert np.isnan(figures["tempo_weight_auc"])  # one piece, right: nothing to rank
    assert 0.2 < figures["naive_chord_majmin_accuracy"] < 0.95
    assert figures["analysis_s_per_audio_min"] >= 0.0


def test_a_double_tempo_and_a_wrong_key_count_as_such(chorale, monkeypatch):
    dominant = type(chorale.key)((chorale.key.tonic + 7) % 12, chorale.key.minor)
    monkeypatch.setattr(analysis, "analyse", _analyser_that_knows(chorale, bpm=2 * chorale.bpm, key=dominant))
    figures = analysis.score([chorale])
    assert (figures["tempo_acc1"], figures["tempo_acc2"]) == (0.0, 1.0)
    assert (figures["key_exact"], figures["key_weighted_score"]) == (0.0, 0.5)


def test_piece_counts_name_split_and_style(chorale):
    counts = analysis.piece_counts("test", [chorale, chorale])
    assert counts == {"pieces_test": 2.0, "pieces_test_with_drums": 2.0 * chorale.has_drums, "pieces_test_chorale": 2.0}
