"""Analysis results as beatflow.separator.v1.AudioAnalysis, and as the JSON document the REST API,
the analysis jobs and `beatflow analyze --offline` all return."""

from __future__ import annotations

import math

from google.protobuf import json_format

from beatflow.common.v1 import audio_pb2
from beatflow.separator.v1 import separator_pb2
from beatflow_audio.analysis import Analysis
from beatflow_audio.proto import FORMAT_TO_PROTO, key_name, key_to_proto
from beatflow_audio.theory import Key


def _finite(value: float, floor: float) -> float:
    """Silence has -inf loudness and peak; protobuf JSON cannot carry infinities, so use a floor."""
    return value if math.isfinite(value) else floor


def analysis_to_proto(analysis: Analysis, audio_format: str) -> separator_pb2.AudioAnalysis:
    rhythm, tonality = analysis.rhythm, analysis.tonality
    return separator_pb2.AudioAnalysis(
        audio=audio_pb2.AudioInfo(
            duration_seconds=analysis.duration_seconds,
            sample_rate=analysis.sample_rate,
            channels=analysis.channels,
            format=FORMAT_TO_PROTO.get(audio_format, audio_pb2.AUDIO_FORMAT_UNSPECIFIED),
        ),
        bpm=rhythm.bpm,
        alternative_bpm=rhythm.alternative_bpm,
        bpm_weight=rhythm.bpm_weight,
        tempo_confidence=rhythm.confidence,
        tempo_drift=rhythm.tempo_drift,
        tempo_drifts=rhythm.tempo_drifts,
        beat_times_seconds=rhythm.beat_times,
        downbeat_times_seconds=rhythm.downbeat_times,
        beats_per_bar=rhythm.beats_per_bar,
        key=key_to_proto(tonality.key),
        key_confidence=tonality.confidence,
        mode_reading=key_to_proto(Key.of(tonality.mode_tonic, tonality.mode)),
        tuning_cents=tonality.tuning_cents,
        chords=[
            separator_pb2.ChordSpan(start_seconds=chord.start, end_seconds=chord.end, label=chord.label)
            for chord in analysis.chords
        ],
        integrated_loudness_lufs=_finite(analysis.loudness_lufs, -120.0),
        peak_dbfs=_finite(analysis.peak_dbfs, -120.0),
        waveform_peaks=analysis.waveform_peaks,
    )


def analysis_document(analysis: separator_pb2.AudioAnalysis) -> dict:
    """The JSON of an analysis: every proto field (names as in the .proto) plus the seed contract's
    `bpm` (rounded), `key_signature` and `duration`, the exact tempo and the mode reading in words."""
    document = json_format.MessageToDict(
        analysis, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return {
        **document,
        "bpm": round(analysis.bpm),
        "bpm_exact": analysis.bpm,
        "key_signature": key_name(analysis.key),
        "mode_signature": key_name(analysis.mode_reading),
        "duration": analysis.audio.duration_seconds,
    }
