"""Scores of estimates against the corpus truth (MIREX conventions through mir_eval)."""

from __future__ import annotations

import mir_eval
import numpy as np
from scipy.stats import rankdata

from beatflow_audio.theory import PITCH_NAMES, Key

TEMPO_TOLERANCE = 0.04
ACC2_FACTORS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


def tempo_hits(estimate: float, truth: float) -> tuple[bool, bool]:
    """(Acc1, Acc2): within 4 % of the truth; of the truth or 2x, 1/2x, 3x, 1/3x of it."""
    acc1 = abs(estimate - truth) <= TEMPO_TOLERANCE * truth
    acc2 = any(abs(estimate - truth * f) <= TEMPO_TOLERANCE * truth * f for f in ACC2_FACTORS)
    return acc1, acc2


# How a tempo estimate relates to the truth, by the ratio estimate / truth (each within TEMPO_TOLERANCE).
TEMPO_ERROR_KINDS = {
    "octave": (2.0, 0.5),  # the same pulse a duple level away (Acc2 forgives these and the triples)
    "triple": (3.0, 1.0 / 3.0),  # a level of a ternary grouping
    "two_octaves": (4.0, 0.25),
    "ternary": (1.5, 2.0 / 3.0, 4.0 / 3.0, 0.75),  # another pulse: 3 against 2 or 4 against 3
}


def tempo_error_kind(estimate: float, truth: float) -> str:
    """The kind of a tempo estimate: "right" (Acc1), one of TEMPO_ERROR_KINDS, or "other" (off the
    pulse, e.g. a tempo 10 % off)."""
    ratio = estimate / truth
    if abs(ratio - 1.0) <= TEMPO_TOLERANCE:
        return "right"
    for kind, factors in TEMPO_ERROR_KINDS.items():
        if any(abs(ratio - factor) <= TEMPO_TOLERANCE * factor for factor in factors):
            return kind
    return "other"


def key_label(key: Key) -> str:
    """mir_eval.key spelling of the tonal reading (a modal key counts by its tonic and third)."""
    return f"{PITCH_NAMES[key.tonic]} {'minor' if key.minor else 'major'}"


def key_score(estimate: Key, truth: Key) -> float:
    return float(mir_eval.key.weighted_score(key_label(truth), key_label(estimate)))


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a positive outranks a negative (ties count half),
    by the Mann-Whitney rank sum. NaN when either class is empty."""
    scores, positive = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    positives, negatives = int(positive.sum()), int((~positive).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def chord_majmin(
    truth: list[tuple[float, float, str]], estimate: list[tuple[float, float, str]]
) -> tuple[float, float]:
    """(seconds scored right, seconds scored) by mir_eval's majmin rule, the estimate padded with
    no-chord where it does not cover the truth. Summing both over pieces gives the duration-weighted
    accuracy of a set. Truth "X" is not scored."""
    ref_intervals = np.array([[s, e] for s, e, _ in truth])
    ref_labels = [label for _, _, label in truth]
    est_intervals = np.array([[s, e] for s, e, _ in estimate]) if estimate else np.zeros((0, 2))
    est_labels = [label for _, _, label in estimate]
    est_intervals, est_labels = mir_eval.util.adjust_intervals(
        est_intervals,
        est_labels,
        ref_intervals.min(),
        ref_intervals.max(),
        mir_eval.chord.NO_CHORD,
        mir_eval.chord.NO_CHORD,
    )
    intervals, ref_labels, est_labels = mir_eval.util.merge_labeled_intervals(
        ref_intervals, ref_labels, est_intervals, est_labels
    )
    durations = mir_eval.util.intervals_to_durations(intervals)
    comparisons = mir_eval.chord.majmin(ref_labels, est_labels)
    scored = comparisons >= 0
    return float((durations * comparisons)[scored].sum()), float(durations[scored].sum())


def beat_f_measure(truth: np.ndarray, estimate: np.ndarray) -> float:
    """mir_eval's F-measure (70 ms window), both sides without their first 5 s as mir_eval.beat.evaluate does."""
    return float(
        mir_eval.beat.f_measure(mir_eval.beat.trim_beats(truth), mir_eval.beat.trim_beats(np.asarray(estimate)))
    )


def downbeat_f_measure(truth: np.ndarray, estimate: np.ndarray, beats_per_bar: int) -> float:
    """Beat F-measure on bar starts; for two-beat bars also on every other bar start (either phase),
    the best of the three, as two 2/4 bars and one 4/4 bar sound the same."""
    candidates = [truth] if beats_per_bar != 2 else [truth, truth[::2], truth[1::2]]
    return max(beat_f_measure(candidate, estimate) for candidate in candidates)


def meter_class(beats_per_bar: int) -> str:
    return "triple" if beats_per_bar % 3 == 0 else "duple"
