"""Audio facts <-> beatflow.common.v1 messages."""

from __future__ import annotations

from typing import cast

from beatflow.common.v1 import audio_pb2
from beatflow_audio.theory import Key

FORMAT_TO_PROTO = {
    "WAV": audio_pb2.AUDIO_FORMAT_WAV,
    "FLAC": audio_pb2.AUDIO_FORMAT_FLAC,
    "MP3": audio_pb2.AUDIO_FORMAT_MP3,
    "OGG": audio_pb2.AUDIO_FORMAT_OGG,
    "AIFF": audio_pb2.AUDIO_FORMAT_AIFF,
    "MID": audio_pb2.AUDIO_FORMAT_MIDI,
}
FORMAT_FROM_PROTO = {value: name for name, value in FORMAT_TO_PROTO.items()}
# Mode names of `theory.MODE_NAMES`; ionian and aeolian are the major and minor scales' own modes.
MODE_TO_PROTO = {
    "major": audio_pb2.MODE_MAJOR,
    "minor": audio_pb2.MODE_MINOR,
    "ionian": audio_pb2.MODE_MAJOR,
    "aeolian": audio_pb2.MODE_MINOR,
    "dorian": audio_pb2.MODE_DORIAN,
    "phrygian": audio_pb2.MODE_PHRYGIAN,
    "lydian": audio_pb2.MODE_LYDIAN,
    "mixolydian": audio_pb2.MODE_MIXOLYDIAN,
    "locrian": audio_pb2.MODE_LOCRIAN,
}
_MODE_FROM_PROTO = {value: name for name, value in reversed(MODE_TO_PROTO.items())}


def key_from_proto(key: audio_pb2.MusicalKey) -> Key | None:
    """None when no tonic is set; ValueError for values outside the enums (proto3 enums are open)."""
    if key.tonic not in audio_pb2.PitchClass.values():
        raise ValueError(f"tonic {key.tonic} is not a pitch class")
    if key.mode not in audio_pb2.Mode.values():
        raise ValueError(f"mode {key.mode} is not a mode")
    if key.tonic == audio_pb2.PITCH_CLASS_UNSPECIFIED:
        return None
    return Key.of(key.tonic - audio_pb2.PITCH_CLASS_C, _MODE_FROM_PROTO.get(key.mode, "major"))


def key_to_proto(key: Key) -> audio_pb2.MusicalKey:
    # Enum values are plain ints at run time; the generated .pyi names only the enum type.
    tonic = cast(audio_pb2.PitchClass, key.tonic + audio_pb2.PITCH_CLASS_C)
    return audio_pb2.MusicalKey(tonic=tonic, mode=MODE_TO_PROTO[key.mode_name])


def key_name(key: audio_pb2.MusicalKey) -> str:
    """'D dorian', 'A minor'; empty when no tonic is set."""
    found = key_from_proto(key)
    return found.name if found else ""
