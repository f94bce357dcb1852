"""Protobuf requests -> checked `GenerationSpec`s."""

from __future__ import annotations

from beatflow.common.v1 import audio_pb2
from beatflow.generator.v1 import generator_pb2
from beatflow_audio.theory import Key
from beatflow_generator import spec as specs
from beatflow_generator.spec import GenerationSpec


def key_from_proto(key: audio_pb2.MusicalKey) -> Key | None:
    if key.tonic == audio_pb2.PITCH_CLASS_UNSPECIFIED:
        return None
    return Key(key.tonic - audio_pb2.PITCH_CLASS_C, key.mode == audio_pb2.MODE_MINOR)


def key_to_proto(key: Key) -> audio_pb2.MusicalKey:
    return audio_pb2.MusicalKey(
        tonic=key.tonic + audio_pb2.PITCH_CLASS_C, mode=audio_pb2.MODE_MINOR if key.minor else audio_pb2.MODE_MAJOR
    )


def spec_from_params(
    params: generator_pb2.GenerationParams, engines: dict[str, float], field_prefix: str, *, require_prompt: bool = True
) -> GenerationSpec:
    return specs.check(
        prompt=params.prompt,
        bpm=params.bpm,
        mood=params.mood,
        duration_seconds=params.duration_seconds or 15.0,
        key=key_from_proto(params.key),
        engine=params.engine,
        seed=params.seed,
        engines=engines,
        temperature=params.sampling.temperature,
        top_k=params.sampling.top_k,
        top_p=params.sampling.top_p,
        guidance_scale=params.sampling.guidance_scale,
        field_prefix=field_prefix,
        require_prompt=require_prompt,
    )
