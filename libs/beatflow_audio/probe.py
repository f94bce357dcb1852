"""Decides whether bytes are audio, and describes them (libsndfile through soundfile).

Reads the header and decodes the first second, which catches non-audio and most truncated
files without decoding hours of audio on every upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import soundfile

from beatflow_audio.codec import CONTENT_TYPES, DECODE_ERRORS, not_audio
from beatflow_platform.errors import InvalidArgument


@dataclass(frozen=True)
class AudioDescription:
    format: str
    content_type: str
    duration_seconds: float
    sample_rate: int
    channels: int


def describe(handle: BinaryIO, *, max_seconds: float) -> AudioDescription:
    """Raises INVALID_ARGUMENT (reason NOT_AUDIO or AUDIO_TOO_LONG) for what cannot be committed."""
    handle.seek(0)
    try:
        with soundfile.SoundFile(handle) as sound:
            audio_format = sound.format
            frames, sample_rate, channels = sound.frames, sound.samplerate, sound.channels
            probe = sound.read(min(frames, sample_rate), dtype="float32")
    except DECODE_ERRORS as error:
        raise not_audio(error) from None
    if audio_format not in CONTENT_TYPES or sample_rate <= 0 or channels <= 0 or frames <= 0 or len(probe) == 0:
        raise InvalidArgument(
            "the file holds no decodable audio", reason="NOT_AUDIO", metadata={"format": audio_format}
        )
    duration = frames / sample_rate
    if duration > max_seconds:
        raise InvalidArgument(
            f"audio is {duration:.0f} s long; the limit is {max_seconds:.0f} s",
            reason="AUDIO_TOO_LONG",
            metadata={"duration_seconds": f"{duration:.3f}", "limit_seconds": f"{max_seconds:.0f}"},
        )
    return AudioDescription(audio_format, CONTENT_TYPES[audio_format], duration, sample_rate, channels)
