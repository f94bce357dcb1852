"""Protobuf requests -> checked `GenerationSpec`s."""

from __future__ import annotations

from beatflow.generator.v1 import generator_pb2
from beatflow_audio.proto import key_from_proto
from beatflow_generator import spec as specs
from beatflow_generator.spec import GenerationSpec
from beatflow_platform import naming
from beatflow_platform.errors import FieldViolation, InvalidArgument


def spec_from_params(
    params: generator_pb2.GenerationParams, engines: dict[str, float], field_prefix: str, *, require_prompt: bool = True
) -> GenerationSpec:
    try:
        key = key_from_proto(params.key)
    except ValueError as error:
        violation = FieldViolation(f"{field_prefix}.key", str(error))
        raise InvalidArgument(f"{violation.field}: {violation.description}", violations=[violation]) from error
    return specs.check(
        prompt=params.prompt,
        bpm=params.bpm,
        mood=params.mood,
        duration_seconds=params.duration_seconds or 15.0,
        key=key,
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


def source_from_params(params: generator_pb2.GenerationParams, field_prefix: str) -> dict:
    """The repository and commit a request names as its context, checked for shape: a repository
    id (UUID) alone, or with a commit id (sha256) of that repository; both empty is no source."""
    violations = []
    if params.repo_id and not naming.matches(naming.UUID, params.repo_id):
        violations.append(FieldViolation(f"{field_prefix}.repo_id", "must be a repository id (UUID)"))
    if params.commit_id and not naming.matches(naming.SHA256, params.commit_id):
        violations.append(FieldViolation(f"{field_prefix}.commit_id", "must be a commit id (64 lowercase hex digits)"))
    elif params.commit_id and not params.repo_id:
        violations.append(FieldViolation(f"{field_prefix}.repo_id", "must name the repository of commit_id"))
    if violations:
        raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations)
    return {"repo_id": params.repo_id.lower(), "commit_id": params.commit_id}
