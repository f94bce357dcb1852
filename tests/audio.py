"""Real audio made on the fly for tests: tones encoded in any container libsndfile writes."""

from __future__ import annotations

import io

import numpy as np
import soundfile


def tone(
    seconds: float = 1.0,
    frequency: float = 440.0,
    *,
    sample_rate: int = 44100,
    channels: int = 2,
    audio_format: str = "WAV",
) -> bytes:
    """A sine tone of `frequency` Hz, encoded as `audio_format` (WAV, FLAC, OGG or MP3)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = 0.3 * np.sin(2 * np.pi * frequency * t).astype("float32")
    samples = np.repeat(mono[:, None], channels, axis=1)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate, format=audio_format)
    return buffer.getvalue()
