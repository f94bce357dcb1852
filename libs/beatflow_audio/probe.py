"""Decides whether bytes are audio, and describes them (libsndfile through soundfile).

`describe` decodes the whole file, block by block so memory stays bounded, and compares what
decoded with what the container declares: a truncated or corrupt file is refused here, when it
is uploaded, rather than in whatever reads it later. `describe_blob` also accepts Standard MIDI
Files, which are stored beside the audio rendered from them.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import pretty_midi
import soundfile

from beatflow_audio import containers
from beatflow_audio.codec import CONTENT_TYPES, DECODE_ERRORS, FORMAT_NAMES, not_audio
from beatflow_platform.errors import InvalidArgument, ResourceExhausted

# Samples (frames x channels) decoded at a time: 1 MiB of float32 whatever the channel count.
BLOCK_SAMPLES = 256 * 1024
MIDI_FORMAT = "MID"
MAX_MIDI_BYTES = 2 * 1024 * 1024  # parsed whole in Python (about 5 s per MB of dense notes)


@dataclass(frozen=True)
class AudioDescription:
    format: str
    content_type: str
    duration_seconds: float
    sample_rate: int
    channels: int


def _refused(message: str, **metadata: str) -> InvalidArgument:
    return InvalidArgument(message, reason="NOT_AUDIO", metadata=metadata)


def _too_long(duration: float, max_seconds: float) -> InvalidArgument:
    return InvalidArgument(
        f"audio is {duration:.0f} s long; the limit is {max_seconds:.0f} s",
        reason="AUDIO_TOO_LONG",
        metadata={"duration_seconds": f"{duration:.3f}", "limit_seconds": f"{max_seconds:.0f}"},
    )


def _decoded_frames(sound: soundfile.SoundFile) -> int:
    """Decodes every block (raising what libsndfile raises for corrupt data) and counts the frames."""
    block = max(1, BLOCK_SAMPLES // sound.channels)
    frames = 0
    while decoded := len(sound.read(block, dtype="float32")):
        frames += decoded
    return frames


def describe(handle: BinaryIO, *, max_seconds: float) -> AudioDescription:
    """Raises INVALID_ARGUMENT (reason NOT_AUDIO or AUDIO_TOO_LONG) for what cannot be committed."""
    handle.seek(0)
    try:
        with soundfile.SoundFile(handle) as sound:
            sndfile_format, sample_rate, channels = sound.format, sound.samplerate, sound.channels
            declared = sound.frames
            if sndfile_format not in FORMAT_NAMES or sample_rate <= 0 or channels <= 0:
                raise _refused("the file holds no decodable audio", format=sndfile_format)
            if declared / sample_rate > max_seconds:  # refused before hours of audio are decoded
                raise _too_long(declared / sample_rate, max_seconds)
            frames = _decoded_frames(sound)
    except DECODE_ERRORS as error:
        raise not_audio(error) from None
    if frames == 0:
        raise _refused("the file holds no audio samples", format=sndfile_format)
    exact_length = sndfile_format != "MP3" or containers.mp3_declares_length(handle)
    if exact_length and frames < declared:
        raise _refused(
            f"the file is truncated: {frames} of the {declared} frames it declares decode",
            format=sndfile_format,
        )
    if shortfall := containers.shortfall(handle, sndfile_format):
        raise _refused(f"the file is truncated: {shortfall}", format=sndfile_format)
    duration = frames / sample_rate
    if duration > max_seconds:
        raise _too_long(duration, max_seconds)
    name = FORMAT_NAMES[sndfile_format]
    return AudioDescription(name, CONTENT_TYPES[name], duration, sample_rate, channels)


def _describe_midi(handle: BinaryIO) -> AudioDescription:
    """A Standard MIDI File: its length in seconds, no sample rate or channels."""
    data = handle.read(MAX_MIDI_BYTES + 1)
    if len(data) > MAX_MIDI_BYTES:
        raise ResourceExhausted(
            f"MIDI files are limited to {MAX_MIDI_BYTES} bytes",
            reason="MIDI_TOO_LARGE",
            metadata={"limit_bytes": str(MAX_MIDI_BYTES)},
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about meta events on non-zero tracks
            duration = float(pretty_midi.PrettyMIDI(io.BytesIO(data)).get_end_time())
    except Exception as error:  # mido raises many kinds of error on malformed input
        raise _refused("the file is not a readable Standard MIDI File", decoder=str(error)[:200]) from None
    return AudioDescription(MIDI_FORMAT, CONTENT_TYPES[MIDI_FORMAT], duration, 0, 0)


def describe_blob(handle: BinaryIO, *, max_seconds: float) -> AudioDescription:
    """`describe`, or a Standard MIDI File's description (format "MID") when the bytes are one
    (RESOURCE_EXHAUSTED, reason MIDI_TOO_LARGE, above MAX_MIDI_BYTES)."""
    handle.seek(0)
    if handle.read(4) == b"MThd":
        handle.seek(0)
        return _describe_midi(handle)
    return describe(handle, max_seconds=max_seconds)
