"""Audio facts <-> beatflow.common.v1 messages."""

from __future__ import annotations

from beatflow.common.v1 import audio_pb2
from beatflow_audio.theory import Key

FORMAT_TO_PROTO = {
    "WAV": audio_pb2.AUDIO_FORMAT_WAV,
    "FLAC": audio_pb2.AUDIO_FORMAT_FLAC,
    "MP3": audio_pb2.AUDIO_FORMAT_MP3,
    "OGG": audio_pb2.AUDIO_FORMAT_OGG,
}
FORMAT_FROM_PROTO = {value: name for name, value in FORMAT_TO_PROTO.items()}


def key_from_proto(key: audio_pb2.MusicalKey) -> Key | None:
    """None when no tonic is set; ValueError for values outside the enums (proto3 enums are open)."""
    if key.tonic not in audio_pb2.PitchClass.values():
        raise ValueError(f"tonic {key.tonic} is not a pitch class")
    if key.mode not in audio_pb2.Mode.values():
        raise ValueError(f"mode {key.mode} is not a mode")
    if key.tonic == audio_pb2.PITCH_CLASS_UNSPECIFIED:
        return None
    return Key(key.tonic - audio_pb2.PITCH_CLASS_C, key.mode == audio_pb2.MODE_MINOR)


def key_to_proto(key: Key) -> audio_pb2.MusicalKey:
    return audio_pb2.MusicalKey(
        tonic=key.tonic + audio_pb2.PITCH_CLASS_C, mode=audio_pb2.MODE_MINOR if key.minor else audio_pb2.MODE_MAJOR
    )
