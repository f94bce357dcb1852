"""A score of the bench corpus performed at another tempo: truth and audio move together, and the
analyser reads the tempo of a drum-less chorale whose held chords make the beat tracker slip."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

import bench.corpus
from beatflow_audio import soundfont
from beatflow_audio.rhythm import estimate_rhythm
from bench import analysis
from bench.corpus import analysis_pieces, catalogue, metrics
from bench.corpus.tempo_variants import at_tempo, tempo_variants

RATE = 22050
pytestmark = pytest.mark.skipif(not soundfont.available(), reason="fluidsynth or the GM soundfont is missing")


@pytest.fixture(scope="module")
def chorale(tmp_path_factory):
    """BWV 248.17 for strings, as the bench performs it (61 bpm, no drums), rendered into a temporary cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench.corpus, "CACHE_DIR", tmp_path_factory.mktemp("corpus"))
        patch.setattr(catalogue, "sources", lambda: (catalogue.Source("bach/bwv248.17.mxl", "chorale", ("strings",)),))
        (piece,) = analysis_pieces()
        faster = at_tempo(piece, 1.2)
        for performed in (piece, faster):
            performed.audio(RATE)  # rendered while the temporary cache is in place
        yield piece, faster


def _match(audio: np.ndarray, faster_audio: np.ndarray, scale: float) -> float:
    """Correlation of the faster audio's onset envelope with the original's played `scale` times as fast."""
    envelope, faster_envelope = (librosa.onset.onset_strength(y=a, sr=RATE) for a in (audio, faster_audio))
    frames = np.arange(len(envelope))
    return float(
        np.corrcoef(np.interp(np.arange(len(faster_envelope)) * scale, frames, envelope), faster_envelope)[0, 1]
    )


def test_a_variant_plays_the_arrangement_faster_and_its_truth_follows(chorale):
    piece, faster = chorale
    assert faster.bpm == pytest.approx(1.2 * piece.bpm)
    assert faster.name.split("@")[0] == piece.name.split("@")[0] and faster.name != piece.name
    assert np.allclose(faster.beats, piece.beats / 1.2) and faster.key == piece.key
    audio, faster_audio = piece.audio(RATE), faster.audio(RATE)
    assert len(faster_audio) == pytest.approx(len(audio) / 1.2, rel=0.05)
    # the variant's onsets are the original's, 1.2 times as early
    matches = {scale: _match(audio, faster_audio, scale) for scale in (1.0, 1.1, 1.2, 1.3)}
    assert matches[1.2] > 0.6 and matches[1.2] > max(matches[1.0], matches[1.1], matches[1.3]) + 0.1


def test_variants_stay_in_a_playable_tempo_range(chorale):
    piece, _ = chorale
    variants = tempo_variants([piece], (0.5, 0.7, 1.2, 4.0))
    assert [variant.tempo_scale for variant in variants] == [0.7, 1.2]  # 30.5 and 244 bpm are left out


def test_held_chords_do_not_pull_the_tempo_off(chorale):
    """At 73.2 bpm the beat tracker inserts beats across the chorale's long chords; the tempo stays the
    tempogram's (it read 76.6, 4.6 % fast, when the beats' median interval could move it 6 %)."""
    _, faster = chorale
    rhythm = estimate_rhythm(faster.audio(RATE), RATE)
    assert metrics.tempo_error_kind(rhythm.bpm, faster.bpm) == "right"


def test_tempo_score_counts_hits_and_misses_by_kind(chorale):
    piece, faster = chorale
    figures = analysis.tempo_score([piece, faster])
    assert figures["tempo_acc1"] == 1.0 and figures["tempo_acc2"] == 1.0
    assert sum(value for name, value in figures.items() if name.startswith("tempo_errors_")) == 0
    assert 0.0 <= figures["librosa_tempo_acc1"] <= figures["librosa_tempo_acc2"] <= 1.0
