"""beatflow.generator.v1.GeneratorService: checks requests and queues jobs; workers do the rest."""

from __future__ import annotations

import dataclasses
import uuid

import grpc
from google.protobuf import json_format

from beatflow.generator.v1 import generator_pb2, generator_pb2_grpc
from beatflow.jobs.v1 import jobs_pb2
from beatflow.vcs.v1 import version_control_pb2
from beatflow_generator import spec as specs
from beatflow_generator.engines.base import Engine
from beatflow_generator.engines.registry import Engines
from beatflow_generator.jobs import GENERATE, HUM_TO_BEAT
from beatflow_generator.landing import Destination, VersionControl
from beatflow_generator.payloads import GenerationPayload, SourceCommit
from beatflow_generator.provenance import Provenance
from beatflow_generator.requests import (
    branch_violations,
    commit_violations,
    destination_from_params,
    operation_from_params,
    source_from_params,
    spec_from_params,
)
from beatflow_generator.spec import GenerationSpec, Operation
from beatflow_platform.auth import current_principal
from beatflow_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from beatflow_platform.jobs.model import NewJob, Priority
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.servicer import job_to_proto
from beatflow_platform.objectstore import is_blob_id
from beatflow_platform.project_reader import ProjectReader

SERVICE_NAME = generator_pb2.DESCRIPTOR.services_by_name["GeneratorService"].full_name
SOURCE_NEEDED = (specs.CONTINUE, specs.REPAINT, specs.REDO_STEM)


def _invalid(field: str, description: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {description}", violations=[FieldViolation(field, description)])


def _require_operation(engine: Engine, operation: Operation) -> None:
    if operation.kind in specs.OPERATION_KINDS and operation.kind not in engine.operations:
        offered = ", ".join(sorted(engine.operations)) or "none"
        raise FailedPrecondition(
            f"engine {engine.name!r} cannot {operation.kind}; its operations: {offered}",
            reason="OPERATION_UNSUPPORTED",
            metadata={"engine": engine.name, "operation": operation.kind},
        )


class GeneratorServicer(generator_pb2_grpc.GeneratorServiceServicer):
    def __init__(
        self,
        queue: JobQueue,
        engines: Engines,
        projects: ProjectReader,
        versions: VersionControl,
        *,
        max_batch: int,
        max_attempts: int,
    ):
        self._queue = queue
        self._engines = engines
        self._projects = projects
        self._versions = versions
        self._max_batch = max_batch
        self._max_attempts = max_attempts

    def _new_job(
        self, kind: str, payload: GenerationPayload, request_id: str, priority: Priority = Priority.INTERACTIVE
    ) -> NewJob:
        """The job for `payload`, with the audio length and engine its owner's limits and ETA use."""
        return NewJob(
            kind,
            payload,
            request_id,
            self._max_attempts,
            priority,
            audio_seconds=float(payload.spec.duration_seconds),
            engine=payload.spec.engine,
        )

    async def _submit(self, kind: str, payload: GenerationPayload, request_id: str) -> jobs_pb2.Job:
        owner = current_principal().subject_id
        [job] = await self._queue.submit_many(owner, [self._new_job(kind, payload, request_id)])
        return job_to_proto(job)

    async def _check_readable(self, source: SourceCommit) -> None:
        """Raises NOT_FOUND unless the caller can read `source` (nothing to check when it is empty)."""
        if source.repo_id:
            await self._projects.check(
                repo_id=source.repo_id, commit_id=source.commit_id, owner_id=current_principal().subject_id
            )

    async def _provenance(self, repo_id: str, commit_id: str) -> tuple[Provenance, version_control_pb2.Commit]:
        """The provenance of a commit the caller can read, and the commit."""
        commit = await self._versions.commit(repo_id, commit_id, owner_id=current_principal().subject_id)
        return Provenance.from_params(json_format.MessageToDict(commit.generation_params), commit_id), commit

    async def _plan(
        self, params: generator_pb2.GenerationParams, prefix: str, *, variation: int = 0, require_prompt: bool = True
    ) -> GenerationPayload:
        """A request's job payload: the spec (an operation's derived from its source commit's
        provenance), its source and where it lands. Field shapes are checked before vcs is asked."""
        source = SourceCommit.from_json(source_from_params(params, prefix))
        destination = destination_from_params(params, prefix, variation)
        operation = operation_from_params(params)
        if operation is not None and operation.kind in SOURCE_NEEDED and not params.commit_id:
            raise _invalid(f"{prefix}.commit_id", f"must name the source commit of a {operation.kind}")
        if operation is not None and params.commit_id:
            spec = await self._operation_spec(params, operation, source, prefix)
        else:
            spec = spec_from_params(params, self._engines.limits, prefix, require_prompt=require_prompt)
            engine = self._engines.ready(spec.engine)
            if operation is not None:  # a loop of a new piece
                _require_operation(engine, operation)
                specs.check_operation(
                    operation,
                    source=None,
                    source_seconds=spec.duration_seconds,
                    stems=(),
                    bpm=spec.bpm,
                    field_prefix=f"{prefix}.operation",
                )
                spec = dataclasses.replace(spec, operation=operation)
            await self._check_readable(source)
        return GenerationPayload(spec, source, destination)

    async def _operation_spec(
        self, params: generator_pb2.GenerationParams, operation: Operation, source: SourceCommit, prefix: str
    ) -> GenerationSpec:
        """`operation` on the source commit: on the source's engine, with its prompt, tempo, key and
        settings, and the request's seed (random when 0) for the new material."""
        provenance, commit = await self._provenance(source.repo_id, source.commit_id)
        engine = self._engines.ready(provenance.spec.engine)
        if params.engine and params.engine != engine.name:
            raise _invalid(
                f"{prefix}.engine",
                f"an operation runs on its source's engine ({engine.name!r}); leave it empty",
            )
        _require_operation(engine, operation)
        specs.check_operation(
            operation,
            source=provenance.spec,
            source_seconds=max((stem.audio.duration_seconds for stem in commit.stems), default=0.0),
            stems=[stem.name for stem in commit.stems],
            bpm=commit.bpm,
            max_seconds=engine.max_duration_seconds,
            field_prefix=f"{prefix}.operation",
        )
        return specs.derive(provenance.spec, operation, seed=params.seed or None)

    async def Generate(
        self, request: generator_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> generator_pb2.GenerateResponse:
        payload = await self._plan(request.params, "params")
        job = await self._submit(GENERATE, payload, request.request_id)
        return generator_pb2.GenerateResponse(job=job)

    async def HumToBeat(
        self, request: generator_pb2.HumToBeatRequest, context: grpc.aio.ServicerContext
    ) -> generator_pb2.HumToBeatResponse:
        if not is_blob_id(request.hum_blob_id):
            raise InvalidArgument.for_field("hum_blob_id", "must be the blob id of an uploaded recording")
        if request.params.HasField("operation"):
            raise InvalidArgument.for_field(
                "params.operation", "hum-to-beat makes a new piece; operations need Generate"
            )
        payload = await self._plan(request.params, "params", require_prompt=False)
        if not self._engines.ready(payload.spec.engine).melody_input:
            raise InvalidArgument.for_field("params.engine", f"{payload.spec.engine!r} cannot follow a melody")
        payload = dataclasses.replace(payload, hum_blob_id=request.hum_blob_id)
        return generator_pb2.HumToBeatResponse(job=await self._submit(HUM_TO_BEAT, payload, request.request_id))

    async def BatchGenerate(
        self, request: generator_pb2.BatchGenerateRequest, context: grpc.aio.ServicerContext
    ) -> generator_pb2.BatchGenerateResponse:
        if not 1 <= len(request.requests) <= self._max_batch:
            raise InvalidArgument.for_field("requests", f"must hold 1 to {self._max_batch} generation requests")
        payloads = [
            await self._plan(params, f"requests[{index}]", variation=index + 1)
            for index, params in enumerate(request.requests)
        ]
        # Variations for an engine that batches share a batch id, so a worker renders them together.
        batch_id = str(uuid.uuid4())
        new_jobs = []
        for index, payload in enumerate(payloads):
            if self._engines.ready(payload.spec.engine).max_batch > 1:
                payload = dataclasses.replace(payload, batch_id=batch_id)
            request_id = f"{request.request_id}#{index}" if request.request_id else ""
            new_jobs.append(self._new_job(GENERATE, payload, request_id, Priority.BATCH))
        # All or none: a batch over the owner's limits queues nothing.
        jobs = await self._queue.submit_many(current_principal().subject_id, new_jobs)
        return generator_pb2.BatchGenerateResponse(jobs=[job_to_proto(job) for job in jobs])

    async def Rerender(
        self, request: generator_pb2.RerenderRequest, context: grpc.aio.ServicerContext
    ) -> generator_pb2.RerenderResponse:
        violations = commit_violations(request.repo_id, request.commit_id, "")
        violations += branch_violations(request.branch, request.repo_id, "branch")
        if violations:
            raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations)
        repo_id = request.repo_id.lower()
        provenance, _ = await self._provenance(repo_id, request.commit_id)
        self._engines.ready(provenance.engine)
        payload = GenerationPayload(
            spec=provenance.spec,
            source=SourceCommit(repo_id, provenance.source_commit_id),
            destination=Destination(repo_id, request.branch) if request.branch else None,
            hum_blob_id=provenance.hum_blob_id,
            rerender_of=request.commit_id,
        )
        return generator_pb2.RerenderResponse(job=await self._submit(GENERATE, payload, request.request_id))

    async def ListEngines(
        self, request: generator_pb2.ListEnginesRequest, context: grpc.aio.ServicerContext
    ) -> generator_pb2.ListEnginesResponse:
        return generator_pb2.ListEnginesResponse(
            engines=[
                generator_pb2.EngineInfo(
                    name=engine.name,
                    available=available,
                    detail=detail,
                    supports_melody=bool(engine.melody_input),
                    max_duration_seconds=engine.max_duration_seconds,
                    operations=sorted(engine.operations),
                )
                for engine, available, detail in self._engines.describe()
            ]
        )
