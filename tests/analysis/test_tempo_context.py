"""The tempo of a reel whose dotted figures make a rival pulse 4:3 off, read from a long tempogram window."""

from __future__ import annotations

import pytest

import bench.corpus
from beatflow_audio import soundfont
from beatflow_audio.rhythm import estimate_rhythm
from bench.corpus import analysis_pieces, catalogue, metrics
from bench.corpus.tempo_variants import at_tempo

RATE = 22050
pytestmark = pytest.mark.skipif(not soundfont.available(), reason="fluidsynth or the GM soundfont is missing")


@pytest.fixture(scope="module")
def reel(tmp_path_factory):
    """The Evansville Reel (a melody instrument, no drums) as the bench performs it, rendered into a temporary
    cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench.corpus, "CACHE_DIR", tmp_path_factory.mktemp("corpus"))
        source = catalogue.Source("ryansMammoth/EvansvilleReel.abc", "reel", catalogue.MELODY)
        patch.setattr(catalogue, "sources", lambda: (source,))
        (piece,) = analysis_pieces()
        slower = [at_tempo(piece, scale) for scale in (0.7, 0.85)]
        for performed in slower:
            performed.audio(RATE)  # rendered while the temporary cache is in place
        yield slower


def test_a_reel_is_not_read_on_a_pulse_4_to_3_off(reel):
    """At 65 and 79 half notes a minute the tempogram also peaks 4:3 above the beat; averaged over 8.9 s
    windows that rival peak scored higher and the reel read 88 and 106 bpm. Over 17.8 s the pulse wins."""
    for performed in reel:
        rhythm = estimate_rhythm(performed.audio(RATE), RATE)
        assert metrics.tempo_hits(rhythm.bpm, performed.bpm)[1], (performed.name, rhythm.bpm)
