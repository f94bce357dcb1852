"""The separator's job handlers: separation and long analyses."""

from __future__ import annotations

import asyncio

from google.protobuf import any_pb2

from beatflow.common.v1 import artifact_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.separator.v1 import separator_pb2
from beatflow_audio import codec
from beatflow_audio.analysis import analyse
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.jobs.worker import JobContext
from beatflow_separator.analysis_proto import analysis_to_proto
from beatflow_separator.audio_input import read_audio
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.registry import Separators

SEPARATE = "separator.separate"
ANALYZE = "separator.analyze"


class SeparatorJobs:
    def __init__(
        self, separators: Separators, blobs: BlobClient, *, max_bytes: int, max_seconds: float, stem_format: str
    ):
        self._separators = separators
        self._blobs = blobs
        self._max_bytes = max_bytes
        self._max_seconds = max_seconds
        self._format = stem_format

    @property
    def handlers(self) -> dict:
        return {SEPARATE: self.separate, ANALYZE: self.analyze}

    async def _read(self, context: JobContext, blob_id: str):
        await context.progress(0.02, "loading")
        return await read_audio(
            self._blobs,
            blob_id,
            owner_id=context.job.owner_id,
            max_bytes=self._max_bytes,
            max_seconds=self._max_seconds,
        )

    async def separate(self, context: JobContext) -> jobs_pb2.JobResult:
        payload = context.job.payload
        engine = self._separators.ready(payload["engine"])
        samples, rate, _ = await self._read(context, payload["source_blob_id"])
        options = SeparationOptions(**payload["options"])

        def progress(fraction: float, stage: str, message: str) -> None:
            context.progress_threadsafe(0.05 + fraction * 0.8, stage, message)

        separation = await asyncio.to_thread(engine.separate, samples, rate, options, progress)
        artifacts = []
        for index, (name, stem) in enumerate(separation.stems.items()):
            await context.progress(0.85 + 0.15 * index / len(separation.stems), "uploading", name)
            data = await asyncio.to_thread(codec.encode, stem, separation.sample_rate, self._format)
            blob = await self._blobs.upload(
                data, filename=f"{name}.{self._format.lower()}", owner_id=context.job.owner_id
            )
            artifacts.append(artifact_pb2.Artifact(name=name, blob=blob))
        detail = any_pb2.Any()
        detail.Pack(
            separator_pb2.SeparationResult(stems=artifacts, engine=engine.name, model_name=separation.model_name)
        )
        return jobs_pb2.JobResult(artifacts=artifacts, detail=detail)

    async def analyze(self, context: JobContext) -> jobs_pb2.JobResult:
        samples, rate, description = await self._read(context, context.job.payload["blob_id"])
        await context.progress(0.3, "analysing")
        points = context.job.payload["waveform_points"]
        analysis = await asyncio.to_thread(analyse, samples, rate, peak_points=points)
        detail = any_pb2.Any()
        detail.Pack(analysis_to_proto(analysis, description.format))
        return jobs_pb2.JobResult(detail=detail)
