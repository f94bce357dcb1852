"""Analysis bench: tempo, beats, meter, key and chords of `beatflow_audio.analysis.analyse` on the
independent corpus (`bench.corpus`: music21 scores rendered with FluidSynth, truth from the scores),
with the textbook baselines (`bench.corpus.baselines`) in the same run, plus the hum figures.

`analysis_s_per_audio_min` is wall time; `analysis_cpu_s_per_audio_min` the process's CPU time (all
threads), steadier on a shared machine, where other work stretches the wall time.

The machine is shared: `load_average_1min_start` and `_end` (the 1-minute load average when the run starts
and ends) say how busy it was; on 2 cores a load above 2 stretches the wall times.

`tempo_errors_<kind>` count the pieces whose tempo is not Acc1-right by how the estimate relates to the
truth (`bench.corpus.metrics.tempo_error_kind`): octave (2x, 1/2x) and triple (3x, 1/3x), which Acc2
forgives, two_octaves (4x, 1/4x), ternary (3:2, 2:3, 4:3, 3:4: another pulse of the music) and other.

`drums_heard_auc` says whether the treble level the rhythm reads drums from
(`beatflow_audio.bars.treble_level_db`) ranks the pieces with drums above the others;
`no_drums_read_as_drums` and `drums_missed` are the shares the switch at its threshold gets wrong.

`tempo_weight_auc` says whether `bpm_weight` (the share of evidence for the reported metrical level
against the runner-up) ranks the pieces whose tempo is right (Acc1) above the others.

`scaled_*` figures are tempo alone on the split's pieces re-performed 0.7, 0.85, 1.2 and 1.4 times as fast
(`bench.corpus.tempo_variants`, those within 40-200 bpm), with librosa's beside them: one tempo per score
says little about the metrical level and the pulse at other tempi.

Figures without a prefix are on the "test" split; the same figures on the "tune" split (the half the
estimators were tuned on) carry the prefix `tune_`. `pieces_<split>[_<style>]` count the pieces.

Two-beat bars (2/4, 2/2, 6/8) and four-beat bars are told apart by notation, not by ear, and the
analyser reads two-beat bars as four (`beatflow_audio.rhythm.Rhythm`). So `meter_accuracy` scores the
meter class (duple: 2 or 4 beats per bar, triple: 3), `meter_exact_accuracy` the beats per bar as
written, and `downbeat_f_measure` takes, for two-beat bars, the best of every bar start and every
other bar start (either phase): the same leniency for bars that Acc2 gives tempo for metrical levels.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from typing import Any

import librosa
import numpy as np

from beatflow_audio import bars
from beatflow_audio.analysis import analyse, analysis_signal
from beatflow_audio.rhythm import estimate_rhythm
from bench.corpus import Piece, analysis_pieces, baselines, metrics
from bench.corpus.hum import hum_figures
from bench.corpus.tempo_variants import tempo_variants

RATE = 22050


def run() -> dict[str, float]:
    load_at_start = os.getloadavg()[0]
    splits = {"test": analysis_pieces("test"), "tune": analysis_pieces("tune")}
    analyse(splits["test"][0].audio(RATE)[:, None], RATE)  # warm-up: numba JIT, filter banks
    figures: dict[str, float] = {}
    for split, pieces in splits.items():
        prefix = "" if split == "test" else "tune_"
        figures |= {f"{prefix}{name}": value for name, value in score(pieces).items()}
        figures |= piece_counts(split, pieces)
        variants = tempo_variants(pieces)
        figures |= {f"{prefix}scaled_{name}": value for name, value in tempo_score(variants).items()}
        figures[f"pieces_{split}_scaled"] = float(len(variants))
    figures |= hum_figures()
    return figures | {
        "load_average_1min_start": round(load_at_start, 2),
        "load_average_1min_end": round(os.getloadavg()[0], 2),
    }


def piece_counts(split: str, pieces: list[Piece]) -> dict[str, float]:
    counts = {
        f"pieces_{split}": float(len(pieces)),
        f"pieces_{split}_with_drums": float(sum(p.has_drums for p in pieces)),
    }
    for style, count in sorted(Counter(p.style for p in pieces).items()):
        counts[f"pieces_{split}_{re.sub(r'[^a-z0-9]+', '_', style.lower())}"] = float(count)
    return counts


def score(pieces: list[Piece]) -> dict[str, float]:
    """Every figure of one set of pieces."""
    rows = [_measure(piece) for piece in pieces]
    drums = np.array([piece.has_drums for piece in pieces])
    figures: dict[str, float] = {}
    for name in ("tempo_acc1", "tempo_acc2", "librosa_tempo_acc1", "librosa_tempo_acc2", "downbeat_f_measure"):
        values = np.array([row[name] for row in rows], dtype=float)
        figures[name] = _mean(values)
        figures[f"{name}_drums"] = _mean(values[drums])
        figures[f"{name}_no_drums"] = _mean(values[~drums])
    for name in (
        "key_weighted_score",
        "key_exact",
        "librosa_key_weighted_score",
        "beat_f_measure",
    ):
        figures[name] = _mean(np.array([row[name] for row in rows]))
    figures["meter_accuracy"] = _mean(np.array([row["meter_class_right"] for row in rows]))
    figures["meter_exact_accuracy"] = _mean(np.array([row["meter_right"] for row in rows]))
    figures["key_confidence_auc"] = metrics.roc_auc(
        np.array([row["key_confidence"] for row in rows]), np.array([row["key_exact"] for row in rows], dtype=bool)
    )
    for kind in (*metrics.TEMPO_ERROR_KINDS, "other"):
        figures[f"tempo_errors_{kind}"] = float(sum(row["tempo_error_kind"] == kind for row in rows))
    figures["drums_heard_auc"] = metrics.roc_auc(np.array([row["treble_level_db"] for row in rows]), drums)
    read_as_drums = np.array([row["read_as_drums"] for row in rows], dtype=bool)
    figures["no_drums_read_as_drums"] = _mean(read_as_drums[~drums])
    figures["drums_missed"] = _mean(~read_as_drums[drums])
    figures["tempo_weight_auc"] = metrics.roc_auc(
        np.array([row["bpm_weight"] for row in rows]), np.array([row["tempo_acc1"] for row in rows], dtype=bool)
    )
    for name in ("chord", "naive_chord"):
        right = sum(row[f"{name}_right_s"] for row in rows)
        scored = sum(row[f"{name}_scored_s"] for row in rows)
        figures[f"{name}_majmin_accuracy"] = right / scored if scored else float("nan")
    minutes = sum(row["minutes"] for row in rows)
    figures["analysis_s_per_audio_min"] = sum(row["analysis_s"] for row in rows) / minutes
    figures["analysis_cpu_s_per_audio_min"] = sum(row["analysis_cpu_s"] for row in rows) / minutes
    return {name: round(float(value), 4) for name, value in figures.items()}


def tempo_score(pieces: list[Piece]) -> dict[str, float]:
    """Tempo figures alone: Acc1, Acc2 and the misses by kind, and librosa's Acc1 and Acc2."""
    figures: dict[str, float] = {}
    hits, textbook_hits, kinds = [], [], Counter()
    for piece in pieces:
        samples = piece.audio(RATE)
        bpm = estimate_rhythm(analysis_signal(samples[:, None], RATE), RATE).bpm
        hits.append(metrics.tempo_hits(bpm, piece.bpm))
        textbook_hits.append(metrics.tempo_hits(baselines.textbook_tempo(samples, RATE), piece.bpm))
        kinds[metrics.tempo_error_kind(bpm, piece.bpm)] += 1
    for prefix, rows in (("", hits), ("librosa_", textbook_hits)):
        acc = np.array(rows, dtype=float).reshape(-1, 2)
        figures[f"{prefix}tempo_acc1"], figures[f"{prefix}tempo_acc2"] = _mean(acc[:, 0]), _mean(acc[:, 1])
    for kind in (*metrics.TEMPO_ERROR_KINDS, "other"):
        figures[f"tempo_errors_{kind}"] = float(kinds[kind])
    return {name: round(value, 4) for name, value in figures.items()}


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _measure(piece: Piece) -> dict[str, Any]:
    """One piece through the analyser and the baselines: numbers, flags and the tempo error's kind."""
    samples = piece.audio(RATE)
    started, cpu_started = time.perf_counter(), time.process_time()
    found = analyse(samples[:, None], RATE)
    elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu_started
    rhythm = found.rhythm
    acc1, acc2 = metrics.tempo_hits(found.bpm, piece.bpm)
    textbook = baselines.textbook_readings(samples, RATE)
    librosa_acc1, librosa_acc2 = metrics.tempo_hits(textbook.bpm, piece.bpm)
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(y=samples, sr=RATE, n_fft=2048, hop_length=512))
    key_exact = found.key.tonic == piece.key.tonic and found.key.minor == piece.key.minor
    chords_right, chords_scored = metrics.chord_majmin(piece.chords, [(c.start, c.end, c.label) for c in found.chords])
    naive_right, naive_scored = metrics.chord_majmin(piece.chords, textbook.chords)
    return {
        "tempo_acc1": acc1,
        "tempo_acc2": acc2,
        "tempo_error_kind": metrics.tempo_error_kind(found.bpm, piece.bpm),
        "bpm_weight": rhythm.bpm_weight,
        "librosa_tempo_acc1": librosa_acc1,
        "librosa_tempo_acc2": librosa_acc2,
        "key_weighted_score": metrics.key_score(found.key, piece.key),
        "key_exact": key_exact,
        "key_confidence": found.tonality.confidence,
        "librosa_key_weighted_score": metrics.key_score(textbook.key, piece.key),
        "treble_level_db": bars.treble_level_db(log_mel, librosa.mel_frequencies(len(log_mel), fmax=RATE / 2)),
        "read_as_drums": bars.is_percussive(log_mel, RATE),
        "beat_f_measure": metrics.beat_f_measure(piece.beats, np.asarray(rhythm.beat_times)),
        "downbeat_f_measure": metrics.downbeat_f_measure(
            piece.downbeats, np.asarray(rhythm.downbeat_times), piece.beats_per_bar
        ),
        "meter_right": rhythm.beats_per_bar == piece.beats_per_bar,
        "meter_class_right": metrics.meter_class(rhythm.beats_per_bar) == metrics.meter_class(piece.beats_per_bar),
        "chord_right_s": chords_right,
        "chord_scored_s": chords_scored,
        "naive_chord_right_s": naive_right,
        "naive_chord_scored_s": naive_scored,
        "analysis_s": elapsed,
        "analysis_cpu_s": cpu_elapsed,
        "minutes": len(samples) / RATE / 60.0,
    }
