"""Protobuf requests -> checked `GenerationSpec`s, operations and where results land."""

from __future__ import annotations

from beatflow.generator.v1 import generator_pb2
from beatflow_audio.proto import key_from_proto
from beatflow_generator import spec as specs
from beatflow_generator.landing import Destination
from beatflow_generator.spec import GenerationSpec, Operation
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


def _raise(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations)


def commit_violations(repo_id: str, commit_id: str, field_prefix: str) -> list[FieldViolation]:
    """A commit id only with the repository it belongs to (their shapes are the contract's rules)."""
    if commit_id and not repo_id:
        return [FieldViolation(f"{field_prefix}repo_id", "must name the repository of commit_id")]
    return []


def branch_violations(branch: str, repo_id: str, field: str, *, longest: int = naming.MAX_REF_LENGTH) -> list:
    """A branch only with its repository, short enough for what is added to its name (its shape is
    the contract's rule)."""
    if not branch:
        return []
    if not repo_id:
        return [FieldViolation(field, "needs repo_id: it names a branch of that repository")]
    if len(branch) > longest:
        return [FieldViolation(field, f"must be at most {longest} characters here")]
    return []


def source_from_params(params: generator_pb2.GenerationParams, field_prefix: str) -> dict:
    """The repository and commit a request names, checked for shape: the source of an operation,
    otherwise context recorded in the provenance."""
    _raise(commit_violations(params.repo_id, params.commit_id, f"{field_prefix}."))
    return {"repo_id": params.repo_id.lower(), "commit_id": params.commit_id}


VARIATION_SUFFIX_LENGTH = len("-var-00")  # up to 99 variations in a batch


def destination_from_params(
    params: generator_pb2.GenerationParams, field_prefix: str, variation: int = 0
) -> Destination | None:
    """Where the result lands (None: nowhere), checked for shape; `variation` n of a batch lands on
    its own branch "<branch>-var-<n>"."""
    longest = naming.MAX_REF_LENGTH - (VARIATION_SUFFIX_LENGTH if variation else 0)
    _raise(branch_violations(params.branch, params.repo_id, f"{field_prefix}.branch", longest=longest))
    if not params.repo_id:
        return None
    return Destination(params.repo_id.lower(), params.branch, variation)


def operation_from_params(params: generator_pb2.GenerationParams) -> Operation | None:
    """The operation a request asks for (checked against its source by `spec.check_operation`)."""
    if not params.HasField("operation"):
        return None
    operation = params.operation
    return Operation(
        kind=operation.kind,
        bars=operation.bars,
        start_seconds=operation.start_seconds,
        end_seconds=operation.end_seconds,
        stem=operation.stem,
    )
