"""beatflow.generator.v1.GeneratorService: checks requests and queues jobs; workers do the rest."""

from __future__ import annotations

import uuid

from beatflow.generator.v1 import generator_pb2, generator_pb2_grpc
from beatflow_generator.engines.registry import Engines
from beatflow_generator.jobs import GENERATE, HUM_TO_BEAT
from beatflow_generator.requests import source_from_params, spec_from_params
from beatflow_platform.auth import current_principal
from beatflow_platform.errors import InvalidArgument
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.servicer import job_to_proto
from beatflow_platform.objectstore import is_blob_id
from beatflow_platform.project_reader import ProjectReader

SERVICE_NAME = generator_pb2.DESCRIPTOR.services_by_name["GeneratorService"].full_name


class GeneratorServicer(generator_pb2_grpc.GeneratorServiceServicer):
    def __init__(
        self, queue: JobQueue, engines: Engines, projects: ProjectReader, *, max_batch: int, max_attempts: int
    ):
        self._queue = queue
        self._engines = engines
        self._projects = projects
        self._max_batch = max_batch
        self._max_attempts = max_attempts

    async def _submit(self, kind: str, payload: dict, request_id: str):
        owner = current_principal().subject_id
        job = await self._queue.submit(kind, owner, payload, request_id=request_id, max_attempts=self._max_attempts)
        return job_to_proto(job)

    async def _readable(self, source: dict) -> dict:
        """`source` (see requests.source_from_params) once vcs says the caller can read it."""
        if source["repo_id"]:
            await self._projects.check(**source, owner_id=current_principal().subject_id)
        return source

    async def Generate(self, request, context):
        spec = spec_from_params(request.params, self._engines.limits, "params")
        self._engines.ready(spec.engine)
        source = await self._readable(source_from_params(request.params, "params"))
        job = await self._submit(GENERATE, {"spec": spec.as_payload(), "source": source}, request.request_id)
        return generator_pb2.GenerateResponse(job=job)

    async def HumToBeat(self, request, context):
        if not is_blob_id(request.hum_blob_id):
            raise InvalidArgument.for_field("hum_blob_id", "must be the blob id of an uploaded recording")
        spec = spec_from_params(request.params, self._engines.limits, "params", require_prompt=False)
        if not self._engines.ready(spec.engine).melody_input:
            raise InvalidArgument.for_field("params.engine", f"{spec.engine!r} cannot follow a melody")
        source = await self._readable(source_from_params(request.params, "params"))
        payload = {"spec": spec.as_payload(), "source": source, "hum_blob_id": request.hum_blob_id}
        return generator_pb2.HumToBeatResponse(job=await self._submit(HUM_TO_BEAT, payload, request.request_id))

    async def BatchGenerate(self, request, context):
        if not 1 <= len(request.requests) <= self._max_batch:
            raise InvalidArgument.for_field("requests", f"must hold 1 to {self._max_batch} generation requests")
        checked = [
            (
                spec_from_params(params, self._engines.limits, f"requests[{index}]"),
                source_from_params(params, f"requests[{index}]"),
            )
            for index, params in enumerate(request.requests)
        ]
        for _, source in checked:
            await self._readable(source)
        # Variations for an engine that batches share a batch id, so a worker renders them together.
        batch_id = str(uuid.uuid4())
        jobs = []
        for index, (spec, source) in enumerate(checked):
            payload = {"spec": spec.as_payload(), "source": source}
            if self._engines.ready(spec.engine).max_batch > 1:
                payload["batch_id"] = batch_id
            jobs.append(
                await self._submit(GENERATE, payload, f"{request.request_id}#{index}" if request.request_id else "")
            )
        return generator_pb2.BatchGenerateResponse(jobs=jobs)

    async def ListEngines(self, request, context):
        return generator_pb2.ListEnginesResponse(
            engines=[
                generator_pb2.EngineInfo(
                    name=engine.name,
                    available=available,
                    detail=detail,
                    supports_melody=bool(engine.melody_input),
                    max_duration_seconds=engine.max_duration_seconds,
                )
                for engine, available, detail in self._engines.describe()
            ]
        )
