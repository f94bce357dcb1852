"""How the analysis bench classifies a tempo estimate against the truth (`bench.corpus.metrics`)."""

from __future__ import annotations

import pytest

from bench.corpus.metrics import tempo_error_kind, tempo_hits


@pytest.mark.parametrize(
    ("estimate", "truth", "kind"),
    [
        (121.0, 120.0, "right"),
        (60.0, 120.0, "octave"),
        (246.0, 120.0, "octave"),
        (30.0, 120.0, "two_octaves"),
        (40.0, 120.0, "triple"),
        (150.0, 50.0, "triple"),
        (120.0, 80.0, "ternary"),  # dotted rhythms heard as the beat: 3 against 2
        (101.0, 150.0, "ternary"),  # 3/4 heard in dotted quarters: 2 against 3
        (126.0, 94.0, "ternary"),  # 4 against 3
        (101.0, 92.0, "other"),
        (170.0, 120.0, "other"),
    ],
)
def test_tempo_error_kinds(estimate, truth, kind):
    assert tempo_error_kind(estimate, truth) == kind


@pytest.mark.parametrize("truth", [50.0, 92.0, 150.0])
@pytest.mark.parametrize("factor", [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 1.1])
def test_acc2_forgives_exactly_the_octave_and_triple_kinds(truth, factor):
    """Acc2 (MIREX) and the kinds agree: right, octave (2x, 1/2x) and triple errors pass Acc2, the others fail it."""
    _, acc2 = tempo_hits(truth * factor, truth)
    assert acc2 == (tempo_error_kind(truth * factor, truth) in ("right", "octave", "triple"))
