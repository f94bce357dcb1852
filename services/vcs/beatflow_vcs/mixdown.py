"""Mixing stems into one audio file, block by block (pure: readable files in, a written file out).

Stems may differ in sample rate, length and channel count: each is resampled (soxr, streaming)
to the highest rate among them, padded with silence to the longest, and a mono stem is played
on both channels when any stem is stereo. The sum is accumulated in a float32 buffer mapped on
a temporary file, so memory stays at a few blocks whatever the length.

Samples that are not finite numbers (NaN or infinity, which a float file a faulty plug-in wrote can hold) are
played as silence: a render of history must not fail, nor turn them into full-scale clicks.

The mix never clips silently: when the sum of the stems would exceed full scale, the whole mix
is turned down so that its peak sits at `PEAK_CEILING_DBFS` (one gain for the whole file, no
limiter: balance and dynamics stay as mixed), and the gain applied is returned.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import soundfile
import soxr

from beatflow_audio.codec import FORMATS, rate_held, silenced_where_not_finite

BLOCK_FRAMES = 65536
PEAK_CEILING_DBFS = -0.1


@dataclass(frozen=True)
class MixedAudio:
    frames: int
    sample_rate: int
    channels: int
    # Gain applied to the whole mix to keep it within full scale (0 or negative).
    headroom_gain_db: float

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate


def mix(
    stems: Sequence[tuple[BinaryIO, float]],
    out: BinaryIO,
    audio_format: str,
    *,
    min_rate: int = 0,
    min_channels: int = 1,
    min_seconds: float = 0.0,
) -> MixedAudio:
    """Mixes (readable audio file, gain in dB) pairs and writes the result to `out` in `audio_format`.

    The file has the highest rate and channel count and the length of the longest stem, or the
    `min_` values when larger (stems left out of a mix thus keep the timeline of the full mix); a rate the format
    cannot hold becomes one it does (codec.rate_held: MP3 at 96 kHz is written at 48 kHz).
    """
    if not stems:
        raise ValueError("nothing to mix")
    sounds = [soundfile.SoundFile(handle) for handle, _ in stems]
    try:
        rate = max(min_rate, *(sound.samplerate for sound in sounds))
        rate = rate_held(audio_format, rate)
        channels = 2 if max(min_channels, *(sound.channels for sound in sounds)) > 1 else 1
        frames = max(
            math.ceil(min_seconds * rate), *(math.ceil(sound.frames * rate / sound.samplerate) for sound in sounds)
        )
        with tempfile.TemporaryFile() as scratch:
            buffer = np.memmap(scratch, dtype=np.float32, mode="w+", shape=(frames, channels))
            for sound, (_, gain_db) in zip(sounds, stems, strict=True):
                _add_into(buffer, sound, rate, 10 ** (gain_db / 20))
            headroom = _headroom(buffer)
            _write(buffer, headroom, out, rate, audio_format)
            del buffer
    finally:
        for sound in sounds:
            sound.close()
    return MixedAudio(frames, int(rate), channels, 20 * math.log10(headroom))


def _add_into(buffer: np.ndarray, sound: soundfile.SoundFile, rate: int, gain: float) -> None:
    """Adds one stem, resampled to `rate` and matched to the buffer's channels, from the start of `buffer`."""
    channels = buffer.shape[1]
    resampler = soxr.ResampleStream(sound.samplerate, rate, channels) if sound.samplerate != rate else None
    position = 0
    blocks = sound.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True)
    for block in itertools.chain(blocks, [None]) if resampler else blocks:
        if block is not None:
            block = silenced_where_not_finite(block)
        if resampler is None:
            assert block is not None  # the None that ends the blocks follows only with a resampler
            samples = _match_channels(block, channels)
        elif block is None:
            samples = resampler.resample_chunk(np.zeros((0, channels), np.float32), last=True)
        else:
            samples = resampler.resample_chunk(_match_channels(block, channels))
        count = min(len(samples), len(buffer) - position)
        buffer[position : position + count] += samples[:count] * np.float32(gain)
        position += count


def _match_channels(block: np.ndarray, channels: int) -> np.ndarray:
    if block.shape[1] == channels:
        return np.ascontiguousarray(block)
    mono = block.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(np.repeat(mono, channels, axis=1))


def _headroom(buffer: np.ndarray) -> float:
    """1.0 when the mix stays within full scale, else the factor that puts its peak at the ceiling."""
    peak = max(float(np.abs(buffer[i : i + BLOCK_FRAMES]).max()) for i in range(0, len(buffer), BLOCK_FRAMES))
    return 10 ** (PEAK_CEILING_DBFS / 20) / peak if peak > 1.0 else 1.0


def _write(buffer: np.ndarray, headroom: float, out: BinaryIO, rate: int, audio_format: str) -> None:
    with soundfile.SoundFile(
        out, "w", samplerate=rate, channels=buffer.shape[1], format=audio_format, subtype=FORMATS[audio_format]
    ) as sound:
        for start in range(0, len(buffer), BLOCK_FRAMES):
            sound.write(buffer[start : start + BLOCK_FRAMES] * np.float32(headroom))
