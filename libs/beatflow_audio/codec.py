"""Decoding and encoding audio with libsndfile.

Decodes what musicians export: WAV (plain and WAVE_FORMAT_EXTENSIBLE, integer and float),
AIFF/AIFC, FLAC, Ogg (Vorbis, Opus) and MP3; encodes WAV, FLAC, Ogg Vorbis and MP3.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile

from beatflow_platform.errors import InvalidArgument

FORMATS = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}
ENCODE_BLOCK_FRAMES = 65536
# What each format can hold, where libsndfile refuses more: FLAC up to eight channels; MPEG layer III mono or
# stereo at the MPEG sample rates.
MAX_CHANNELS = {"FLAC": 8, "MP3": 2}
MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# The format name stored and shown for each container libsndfile reports: "WAVEX" is WAV
# with a WAVE_FORMAT_EXTENSIBLE header (what DAWs, sox and ffmpeg write for 24-bit and float).
FORMAT_NAMES = {"WAV": "WAV", "WAVEX": "WAV", "AIFF": "AIFF", "FLAC": "FLAC", "OGG": "OGG", "MP3": "MP3"}
CONTENT_TYPES = {
    "WAV": "audio/wav",
    "AIFF": "audio/aiff",
    "FLAC": "audio/flac",
    "OGG": "audio/ogg",
    "MP3": "audio/mpeg",
    "MID": "audio/midi",
}


# What libsndfile raises for bytes it cannot decode.
DECODE_ERRORS = (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError)


def not_audio(error: Exception) -> InvalidArgument:
    return InvalidArgument(
        "the file is not audio this service can decode (WAV, AIFF, FLAC, OGG or MP3)",
        reason="NOT_AUDIO",
        metadata={"decoder": str(error)[:200]},
    )


def decode(data: bytes, *, finite_only: bool = True) -> tuple[np.ndarray, int]:
    """(samples as float32 [frames, channels], sample rate); INVALID_ARGUMENT when not decodable, or (with
    `finite_only`) when a sample is NaN or infinite."""
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except DECODE_ERRORS as error:
        raise not_audio(error) from None
    if samples.shape[0] == 0:
        raise InvalidArgument("the file holds no audio samples", reason="NOT_AUDIO")
    if finite_only:
        require_finite(samples)
    return samples, rate


def require_finite(samples: np.ndarray) -> None:
    """INVALID_ARGUMENT (`NOT_FINITE`) when samples hold NaN or infinity, which only a float file can (one a faulty
    plug-in wrote, say): nothing heard or separated from them would mean anything."""
    if not np.isfinite(samples).all():
        raise InvalidArgument(
            "the audio holds samples that are not finite numbers (NaN or infinity): re-export the file",
            reason="NOT_FINITE",
        )


def silenced_where_not_finite(samples: np.ndarray) -> np.ndarray:
    """The samples with any NaN or infinity set to silence, in place: for what must play or compare history as it
    can be heard (renders, diffs) rather than refuse it."""
    return np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0, copy=False)


def require_encodable(audio_format: str, channels: int, sample_rate: int) -> None:
    """INVALID_ARGUMENT (`FORMAT_CANNOT_HOLD`) when `audio_format` cannot hold audio of this shape."""
    limit = MAX_CHANNELS.get(audio_format)
    if limit is not None and channels > limit:
        raise InvalidArgument(
            f"{audio_format} holds at most {limit} channels and this audio has {channels}: choose WAV or OGG",
            reason="FORMAT_CANNOT_HOLD",
            metadata={"format": audio_format, "channels": str(channels)},
        )
    if audio_format == "MP3" and sample_rate not in MP3_SAMPLE_RATES:
        raise InvalidArgument(
            f"MP3 holds audio at {', '.join(map(str, MP3_SAMPLE_RATES))} Hz and this audio is at {sample_rate} Hz: "
            "resample it to one of them (e.g. 48000) or choose another format",
            reason="FORMAT_CANNOT_HOLD",
            metadata={"format": audio_format, "sample_rate": str(sample_rate)},
        )


def rate_held(audio_format: str, sample_rate: int) -> int:
    """`sample_rate` if `audio_format` holds it, else the lowest rate it holds above it (no band is lost), else
    its highest (MP3: 37800 Hz -> 44100, 96000 Hz -> 48000)."""
    if audio_format != "MP3" or sample_rate in MP3_SAMPLE_RATES:
        return sample_rate
    return min((held for held in MP3_SAMPLE_RATES if held > sample_rate), default=MP3_SAMPLE_RATES[-1])


def encode(samples: np.ndarray, sample_rate: int, audio_format: str = "FLAC", *, subtype: str = "") -> bytes:
    """Encodes float samples ([frames] or [frames, channels], -1..1) in `audio_format` (its default
    subtype unless `subtype` names another libsndfile subtype, e.g. "PCM_24").

    Written in blocks: libsndfile's Vorbis encoder crashes the process when handed about a
    minute of audio in one write.
    """
    if audio_format not in FORMATS:
        raise InvalidArgument.for_field("format", f"must be one of {', '.join(FORMATS)}")
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    require_encodable(audio_format, channels, sample_rate)
    buffer = io.BytesIO()
    clipped = np.clip(samples, -1.0, 1.0)
    with soundfile.SoundFile(
        buffer, "w", sample_rate, channels, format=audio_format, subtype=subtype or FORMATS[audio_format]
    ) as sound:
        for start in range(0, len(clipped), ENCODE_BLOCK_FRAMES):
            sound.write(clipped[start : start + ENCODE_BLOCK_FRAMES])
    return buffer.getvalue()


def to_mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1) if samples.ndim == 2 else samples
