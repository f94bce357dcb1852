"""The generator's job handlers: render with an engine, publish stems as blobs the owner can commit."""

from __future__ import annotations

import asyncio

from google.protobuf import any_pb2

from beatflow.common.v1 import artifact_pb2
from beatflow.generator.v1 import generator_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow_audio import codec
from beatflow_audio.proto import key_to_proto
from beatflow_audio.transcription import Transcription
from beatflow_generator import hum
from beatflow_generator.engines.base import Rendering
from beatflow_generator.engines.registry import Engines
from beatflow_generator.spec import GenerationSpec
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.jobs.model import Job
from beatflow_platform.jobs.worker import BatchHandler, JobContext, progress_all_threadsafe

GENERATE = "generator.generate"
HUM_TO_BEAT = "generator.hum_to_beat"


def transcription_to_proto(sung: Transcription) -> generator_pb2.HumTranscription:
    return generator_pb2.HumTranscription(
        notes=[
            generator_pb2.TranscribedNote(
                pitch=note.pitch, onset_seconds=note.onset, offset_seconds=note.offset, confidence=note.confidence
            )
            for note in sung.notes
        ],
        tuning_cents=sung.tuning_cents,
        pitch_tracker=sung.tracker,
    )


RENDER_SHARE = 0.85  # of the progress bar; the rest is encoding and upload


class GenerationJobs:
    def __init__(
        self, engines: Engines, blobs: BlobClient, *, stem_format: str, max_hum_bytes: int, max_hum_seconds: float
    ):
        self._engines = engines
        self._blobs = blobs
        self._format = stem_format
        self._max_hum_bytes = max_hum_bytes
        self._max_hum_seconds = max_hum_seconds

    @property
    def handlers(self) -> dict:
        return {GENERATE: BatchHandler(limit=self._batch_limit, run=self.generate_batch), HUM_TO_BEAT: self.hum_to_beat}

    def _batch_limit(self, job: Job) -> int:
        return self._engines.ready(job.payload["spec"]["engine"]).max_batch

    async def generate_batch(self, contexts: list[JobContext]) -> list[jobs_pb2.JobResult]:
        """Variations of one BatchGenerate request, rendered in one pass by engines that batch."""
        if len(contexts) == 1:
            return [await self.generate(contexts[0])]
        specs = [GenerationSpec.from_payload(context.job.payload["spec"]) for context in contexts]
        engine = self._engines.ready(specs[0].engine)

        def progress(fraction: float, stage: str, message: str) -> None:
            progress_all_threadsafe(contexts, fraction * RENDER_SHARE, stage, message)

        renderings = await asyncio.to_thread(engine.render_batch, specs, progress)
        return [
            await self._publish(context, spec, rendering, engine.name)
            for context, spec, rendering in zip(contexts, specs, renderings, strict=True)
        ]

    async def generate(self, context: JobContext) -> jobs_pb2.JobResult:
        spec = GenerationSpec.from_payload(context.job.payload["spec"])
        return await self._render_and_publish(context, spec)

    async def hum_to_beat(self, context: JobContext) -> jobs_pb2.JobResult:
        spec = GenerationSpec.from_payload(context.job.payload["spec"])
        engine = self._engines.ready(spec.engine)
        await context.progress(0.02, "loading_hum")
        data = await self._blobs.download(
            context.job.payload["hum_blob_id"], owner_id=context.job.owner_id, max_bytes=self._max_hum_bytes
        )
        if engine.melody_input == "audio":
            recording = await asyncio.to_thread(hum.load_recording, data, max_seconds=self._max_hum_seconds)
            return await self._render_and_publish(context, spec, melody_audio=recording)
        await context.progress(0.05, "tracking_pitch")
        melody = await asyncio.to_thread(hum.transcribe, data, spec, max_seconds=self._max_hum_seconds)
        return await self._render_and_publish(context, melody.apply_to(spec), sung=melody.sung)

    async def _render_and_publish(
        self, context: JobContext, spec: GenerationSpec, melody_audio=None, sung: Transcription | None = None
    ):
        engine = self._engines.ready(spec.engine)

        def progress(fraction: float, stage: str, message: str) -> None:
            context.progress_threadsafe(fraction * RENDER_SHARE, stage, message)

        rendering: Rendering = await asyncio.to_thread(engine.render, spec, progress, melody_audio)
        return await self._publish(context, spec, rendering, engine.name, sung)

    async def _publish(
        self,
        context: JobContext,
        spec: GenerationSpec,
        rendering: Rendering,
        engine_name: str,
        sung: Transcription | None = None,
    ) -> jobs_pb2.JobResult:
        """Encodes the stems and uploads them as blobs the job's owner can commit."""
        artifacts = []
        for index, (name, samples) in enumerate(rendering.stems.items()):
            await context.progress(RENDER_SHARE + (1 - RENDER_SHARE) * index / len(rendering.stems), "uploading", name)
            data = await asyncio.to_thread(codec.encode, samples, rendering.sample_rate, self._format)
            blob = await self._blobs.upload(
                data, filename=f"{name}.{self._format.lower()}", owner_id=context.job.owner_id
            )
            artifacts.append(artifact_pb2.Artifact(name=name, blob=blob))
        detail = any_pb2.Any()
        detail.Pack(
            generator_pb2.GenerationResult(
                stems=artifacts,
                bpm=rendering.bpm,
                key=key_to_proto(rendering.key),
                duration_seconds=spec.duration_seconds,
                engine=engine_name,
                seed=spec.seed,
                melody_notes=list(rendering.melody_notes),
                transcription=transcription_to_proto(sung) if sung else None,
                renderer=rendering.renderer,
                prompt_reading=rendering.prompt_reading,
            )
        )
        return jobs_pb2.JobResult(artifacts=artifacts, detail=detail)
