"""One separation from an encoded mixture to stem files plus their quality, for the job and the
offline command alike. Chunking and blockwise engines stream (bounded memory); whole-track
engines get the decoded track."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import soundfile

from beatflow_audio import codec
from beatflow_platform.errors import InvalidArgument
from beatflow_separator.audio_stream import AudioFile, StemWriter, convert
from beatflow_separator.engines.base import (
    BlockwiseSeparator,
    Progress,
    SeparationOptions,
    Separator,
    StreamingSeparator,
)
from beatflow_separator.quality import Quality, QualityMeter


@dataclass(frozen=True)
class Outcome:
    stems: dict[str, Path]  # in the engine's order
    sample_rate: int
    model_name: str
    quality: Quality


def separate(
    engine: Separator | StreamingSeparator | BlockwiseSeparator,
    source: BinaryIO | Path,
    out_dir: Path,
    options: SeparationOptions,
    progress: Progress,
    *,
    audio_format: str,
) -> Outcome:
    """Writes `<stem>.<format>` files into `out_dir`; blocking."""
    try:
        decoded = soundfile.SoundFile(source)
    except codec.DECODE_ERRORS as error:
        raise codec.not_audio(error) from None
    with decoded:
        if decoded.frames <= 0:
            raise InvalidArgument("the file holds no audio samples", reason="NOT_AUDIO")
        if isinstance(engine, StreamingSeparator):
            return _streamed(engine, decoded, out_dir, options, progress, audio_format)
        if isinstance(engine, BlockwiseSeparator):
            return _blockwise(engine, decoded, out_dir, progress, audio_format)
        return _whole(engine, decoded, out_dir, options, progress, audio_format)


@contextlib.contextmanager
def _converted(decoded: soundfile.SoundFile, rate: int, channels: int) -> Iterator[AudioFile]:
    """The mixture as a float WAV at `rate` with `channels` in a scratch folder, opened for random access."""
    with tempfile.TemporaryDirectory(prefix="beatflow-separation-") as scratch:
        mix_path = Path(scratch) / "mixture.wav"
        convert(decoded, rate, channels, mix_path)
        with AudioFile(mix_path) as mix:
            yield mix


def _write_blocks(
    mix: AudioFile,
    stems: tuple[str, ...],
    blocks: Iterable[dict],
    out_dir: Path,
    audio_format: str,
) -> tuple[dict[str, Path], Quality]:
    """Writes stem blocks that tile `mix` in order, metering the quality of what is written against it on the way."""
    meter = QualityMeter(stems)
    with StemWriter(out_dir, stems, mix.rate, mix.channels, audio_format) as writer:
        position = 0
        for block in blocks:
            frames = len(next(iter(block.values())))
            meter.add(mix.read(position, position + frames), writer.write(block))
            position += frames
    return writer.paths, meter.result()


def _streamed(
    engine: StreamingSeparator,
    decoded: soundfile.SoundFile,
    out_dir: Path,
    options: SeparationOptions,
    progress: Progress,
    audio_format: str,
) -> Outcome:
    rate, channels = engine.input_format(options.model_name)
    progress(0.0, "preparing", f"{decoded.samplerate} Hz, {decoded.channels} ch -> {rate} Hz, {channels} ch")
    with _converted(decoded, rate, channels) as mix:
        stream = engine.separate_stream(mix, options, progress)
        paths, quality = _write_blocks(mix, stream.stems, stream.blocks, out_dir, audio_format)
    return Outcome(paths, rate, stream.model_name, quality)


def _blockwise(
    engine: BlockwiseSeparator,
    decoded: soundfile.SoundFile,
    out_dir: Path,
    progress: Progress,
    audio_format: str,
) -> Outcome:
    with _converted(decoded, decoded.samplerate, decoded.channels) as mix:
        blocks = engine.separate_blocks(mix.read, mix.frames, mix.rate, progress)
        paths, quality = _write_blocks(mix, engine.stems, blocks, out_dir, audio_format)
    return Outcome(paths, mix.rate, engine.name, quality)


def _whole(
    engine: Separator,
    decoded: soundfile.SoundFile,
    out_dir: Path,
    options: SeparationOptions,
    progress: Progress,
    audio_format: str,
) -> Outcome:
    samples = decoded.read(dtype="float32", always_2d=True)
    codec.require_finite(samples)
    separation = engine.separate(samples, decoded.samplerate, options, progress)
    stems = tuple(separation.stems)
    meter = QualityMeter(stems)
    with StemWriter(out_dir, stems, separation.sample_rate, samples.shape[1], audio_format) as writer:
        meter.add(samples, writer.write(separation.stems))
    return Outcome(writer.paths, separation.sample_rate, separation.model_name, meter.result())
