"""The separator's job handlers: separation and long analyses."""

from __future__ import annotations

import asyncio
import io
import tempfile
from pathlib import Path

import numpy as np
from google.protobuf import any_pb2

from beatflow.common.v1 import artifact_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.separator.v1 import separator_pb2
from beatflow_audio import probe
from beatflow_audio.analysis import analyse
from beatflow_audio.analysis_proto import analysis_to_proto
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.errors import FailedPrecondition
from beatflow_platform.jobs.worker import BatchHandler, Handler, JobContext
from beatflow_separator import pipeline
from beatflow_separator.audio_input import read_audio
from beatflow_separator.engines.base import StreamingSeparator
from beatflow_separator.engines.registry import Separators
from beatflow_separator.payloads import AnalysisPayload, SeparationPayload

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
    def handlers(self) -> dict[str, Handler | BatchHandler]:
        return {SEPARATE: self.separate, ANALYZE: self.analyze}

    async def _read(self, context: JobContext, blob_id: str) -> tuple[np.ndarray, int, probe.AudioDescription]:
        await context.progress(0.02, "loading")
        return await read_audio(
            self._blobs,
            blob_id,
            owner_id=context.job.owner_id,
            max_bytes=self._max_bytes,
            max_seconds=self._max_seconds,
        )

    async def _download(self, context: JobContext, blob_id: str) -> bytes:
        """The encoded source, checked to be audio within the length limit (decoded later, block by block)."""
        await context.progress(0.0, "loading")
        data = await self._blobs.download(blob_id, owner_id=context.job.owner_id, max_bytes=self._max_bytes)
        await asyncio.to_thread(probe.describe, io.BytesIO(data), max_seconds=self._max_seconds)
        return data

    async def separate(self, context: JobContext) -> jobs_pb2.JobResult:
        """Progress is the separation's own: for chunking engines, chunks done / chunks."""
        payload = SeparationPayload.from_json(context.job.payload)
        engine = self._separators.ready(payload.engine)
        options = payload.options
        # A whole-track engine has one model; the request's name was checked when it was submitted.
        requested = options.model_name if isinstance(engine, StreamingSeparator) else ""
        _, revision = await asyncio.to_thread(self._separators.resolve, engine, requested)
        if payload.revision is not None and revision != payload.revision:
            raise FailedPrecondition(
                f"the weights of {options.model_name!r} changed since the job was queued; submit it again",
                reason="MODEL_CHANGED",
            )
        data = await self._download(context, payload.source_blob_id)
        with tempfile.TemporaryDirectory(prefix="beatflow-stems-") as out_dir:
            outcome = await asyncio.to_thread(
                pipeline.separate,
                engine,
                io.BytesIO(data),
                Path(out_dir),
                options,
                context.progress_threadsafe,
                audio_format=self._format,
            )
            del data
            artifacts = []
            for name, path in outcome.stems.items():
                await context.progress(1.0, "uploading", name)
                blob = await self._blobs.upload(
                    await asyncio.to_thread(path.read_bytes), filename=path.name, owner_id=context.job.owner_id
                )
                artifacts.append(artifact_pb2.Artifact(name=name, blob=blob))
        detail = any_pb2.Any()
        detail.Pack(
            separator_pb2.SeparationResult(
                stems=artifacts,
                engine=engine.name,
                model_name=outcome.model_name,
                model_revision=revision,
                quality=outcome.quality.to_proto(),
            )
        )
        return jobs_pb2.JobResult(artifacts=artifacts, detail=detail)

    async def analyze(self, context: JobContext) -> jobs_pb2.JobResult:
        payload = AnalysisPayload.from_json(context.job.payload)
        samples, rate, description = await self._read(context, payload.blob_id)
        await context.progress(0.3, "analysing")
        analysis = await asyncio.to_thread(analyse, samples, rate, peak_points=payload.waveform_points)
        detail = any_pb2.Any()
        detail.Pack(analysis_to_proto(analysis, description.format))
        return jobs_pb2.JobResult(detail=detail)
