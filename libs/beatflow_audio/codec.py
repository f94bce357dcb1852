"""Decoding and encoding audio with libsndfile (WAV, FLAC, OGG/Vorbis, MP3)."""

from __future__ import annotations

import io

import numpy as np
import soundfile

from beatflow_platform.errors import InvalidArgument

FORMATS = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}
CONTENT_TYPES = {"WAV": "audio/wav", "FLAC": "audio/flac", "OGG": "audio/ogg", "MP3": "audio/mpeg"}


# What libsndfile raises for bytes it cannot decode.
DECODE_ERRORS = (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError)


def not_audio(error: Exception) -> InvalidArgument:
    return InvalidArgument(
        "the file is not audio this service can decode (WAV, FLAC, OGG or MP3)",
        reason="NOT_AUDIO",
        metadata={"decoder": str(error)[:200]},
    )


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """(samples as float32 [frames, channels], sample rate); INVALID_ARGUMENT when not decodable."""
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except DECODE_ERRORS as error:
        raise not_audio(error) from None
    if samples.shape[0] == 0:
        raise InvalidArgument("the file holds no audio samples", reason="NOT_AUDIO")
    return samples, rate


def encode(samples: np.ndarray, sample_rate: int, audio_format: str = "FLAC") -> bytes:
    """Encodes float samples ([frames] or [frames, channels], -1..1) in `audio_format`."""
    if audio_format not in FORMATS:
        raise InvalidArgument.for_field("format", f"must be one of {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    clipped = np.clip(samples, -1.0, 1.0)
    soundfile.write(buffer, clipped, sample_rate, format=audio_format, subtype=FORMATS[audio_format])
    return buffer.getvalue()


def to_mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1) if samples.ndim == 2 else samples
