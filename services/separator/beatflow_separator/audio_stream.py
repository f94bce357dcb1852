"""Audio through files a block at a time: the mixture converted for an engine, and stems written as
they come, so a separation holds no whole track in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

from beatflow_audio import codec

BLOCK_FRAMES = 1 << 16
# WAV stems are 32-bit float, which holds any level (a float mixture bounced above full scale, or stems that cancel in
# the mix and each peak above it); FLAC stems are 16-bit (the storage plan of docs/capacity.md), clipped at full
# scale.
STEM_SUBTYPES = {"WAV": "FLOAT", "FLAC": "PCM_16"}
# libsndfile's command to add or leave out the PEAK chunk of a float WAV (on by default). That chunk holds the
# time it was written, so the same stems written a second later would be other bytes, and another blob.
SFC_SET_ADD_PEAK_CHUNK = 0x1050


def _to_channels(block: np.ndarray, channels: int) -> np.ndarray:
    if block.shape[1] == channels:
        return block
    return np.repeat(block.mean(axis=1, keepdims=True), channels, axis=1)


def convert(decoded: soundfile.SoundFile, rate: int, channels: int, path: Path) -> None:
    """Writes `decoded` as float32 WAV at `rate` with `channels` (a mono mix of the input repeated
    when the counts differ), resampling as a stream (soxr, as librosa does)."""
    resampler = (
        soxr.ResampleStream(decoded.samplerate, rate, channels, dtype="float32", quality="HQ")
        if decoded.samplerate != rate
        else None
    )
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=channels, format="WAV", subtype="FLOAT") as out:
        decoded.seek(0)
        for block in decoded.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
            codec.require_finite(block)
            block = _to_channels(block, channels)
            out.write(resampler.resample_chunk(block) if resampler else block)
        if resampler:
            out.write(resampler.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True))


class AudioFile:
    """Random access to an audio file's frames as float32 [frames, channels] (a `MixReader`)."""

    def __init__(self, path: Path):
        self._sound = soundfile.SoundFile(path)
        self.rate = self._sound.samplerate
        self.channels = self._sound.channels
        self.frames = self._sound.frames

    def read(self, start: int, stop: int) -> np.ndarray:
        self._sound.seek(start)
        return self._sound.read(stop - start, dtype="float32", always_2d=True)

    def blocks(self, frames: int) -> Iterator[np.ndarray]:
        self._sound.seek(0)
        yield from self._sound.blocks(blocksize=frames, dtype="float32", always_2d=True)

    def close(self) -> None:
        self._sound.close()

    def __enter__(self) -> AudioFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _leave_out_peak_chunk(sound: soundfile.SoundFile) -> None:
    """Before any sample is written; soundfile has no call for it, so its libsndfile binding is used directly."""
    soundfile._snd.sf_command(sound._file, SFC_SET_ADD_PEAK_CHUNK, soundfile._ffi.NULL, 0)


class StemWriter:
    """One file per stem, `<stem>.<ext>` in `directory` (WAV or FLAC, STEM_SUBTYPES), written block by block."""

    def __init__(self, directory: Path, stems: tuple[str, ...], rate: int, channels: int, audio_format: str):
        codec.require_encodable(audio_format, channels, rate)
        self.paths = {name: directory / f"{name}.{audio_format.lower()}" for name in stems}
        self._files = {
            name: soundfile.SoundFile(
                path, "w", samplerate=rate, channels=channels, format=audio_format, subtype=STEM_SUBTYPES[audio_format]
            )
            for name, path in self.paths.items()
        }
        self._clips = STEM_SUBTYPES[audio_format] != "FLOAT"
        if not self._clips:
            for sound in self._files.values():
                _leave_out_peak_chunk(sound)

    def write(self, block: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Writes one block of every stem; returns the samples as written (clipped at full scale where the format
        is fixed-point), for metering what the files hold."""
        written = {name: np.clip(samples, -1.0, 1.0) if self._clips else samples for name, samples in block.items()}
        for name, samples in written.items():
            self._files[name].write(samples)
        return written

    def close(self) -> None:
        for sound in self._files.values():
            sound.close()

    def __enter__(self) -> StemWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
