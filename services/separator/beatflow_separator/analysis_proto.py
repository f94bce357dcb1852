"""Analysis results as beatflow.separator.v1.AudioAnalysis."""

from __future__ import annotations

import math

from beatflow.common.v1 import audio_pb2
from beatflow.separator.v1 import separator_pb2
from beatflow_audio.analysis import Analysis
from beatflow_audio.proto import FORMAT_TO_PROTO, key_to_proto


def _finite(value: float, floor: float) -> float:
    """Silence has -inf loudness and peak; protobuf JSON cannot carry infinities, so use a floor."""
    return value if math.isfinite(value) else floor


def analysis_to_proto(analysis: Analysis, audio_format: str) -> separator_pb2.AudioAnalysis:
    return separator_pb2.AudioAnalysis(
        audio=audio_pb2.AudioInfo(
            duration_seconds=analysis.duration_seconds,
            sample_rate=analysis.sample_rate,
            channels=analysis.channels,
            format=FORMAT_TO_PROTO.get(audio_format, audio_pb2.AUDIO_FORMAT_UNSPECIFIED),
        ),
        bpm=analysis.bpm,
        beat_times_seconds=analysis.beat_times,
        key=key_to_proto(analysis.key),
        key_confidence=analysis.key_confidence,
        integrated_loudness_lufs=_finite(analysis.loudness_lufs, -120.0),
        peak_dbfs=_finite(analysis.peak_dbfs, -120.0),
        waveform_peaks=analysis.waveform_peaks,
    )
