"""The generator's job handlers: render with an engine, publish stems and their MIDI as blobs the owner
can commit, and land them as a commit when the request named a repository."""

from __future__ import annotations

import asyncio
import io

import pretty_midi
from google.protobuf import any_pb2, json_format

from beatflow.common.v1 import artifact_pb2
from beatflow.generator.v1 import generator_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.vcs.v1.version_control_pb2 import CreateCommitResponse
from beatflow_audio import codec
from beatflow_audio.proto import key_to_proto
from beatflow_audio.transcription import Transcription, to_midi
from beatflow_generator import hum
from beatflow_generator.engines.base import BatchEngine, Engine, MelodyAudio, Rendering, SourceAudio
from beatflow_generator.engines.registry import Engines
from beatflow_generator.landing import Destination, Landing, VersionControl
from beatflow_generator.payloads import GenerationPayload
from beatflow_generator.provenance import PACKAGE_VERSION, Provenance, commit_message, recorded_mix_scale
from beatflow_generator.spec import LOOP, GenerationSpec
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.jobs.model import Job
from beatflow_platform.jobs.worker import BatchHandler, Handler, JobContext, progress_all_threadsafe

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


RENDER_SHARE = 0.85  # of the progress bar; the rest is encoding, upload and landing


def midi_bytes(midi: pretty_midi.PrettyMIDI) -> bytes:
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def takes_source_audio(engine: Engine, spec: GenerationSpec) -> bool:
    """Whether `spec`, an operation, is rendered from its source commit's audio: engines that take
    it as audio do, except for a loop, which only needs the source's notes."""
    return (
        spec.source is not None
        and engine.source_input == "audio"
        and (spec.operation is None or spec.operation.kind != LOOP)
    )


class GenerationJobs:
    def __init__(
        self,
        engines: Engines,
        blobs: BlobClient,
        versions: VersionControl,
        *,
        stem_format: str,
        max_hum_bytes: int,
        max_hum_seconds: float,
        max_source_bytes: int,
        model_revisions: dict[str, str],
    ):
        self._engines = engines
        self._blobs = blobs
        self._versions = versions
        self._format = stem_format
        self._max_hum_bytes = max_hum_bytes
        self._max_hum_seconds = max_hum_seconds
        self._max_source_bytes = max_source_bytes
        self._revisions = model_revisions

    @property
    def handlers(self) -> dict[str, Handler | BatchHandler]:
        return {GENERATE: BatchHandler(limit=self._batch_limit, run=self.generate_batch), HUM_TO_BEAT: self.hum_to_beat}

    def _batch_limit(self, job: Job) -> int:
        return self._engines.ready(GenerationPayload.from_json(job.payload).spec.engine).max_batch

    async def generate_batch(self, contexts: list[JobContext]) -> list[jobs_pb2.JobResult]:
        """Variations of one BatchGenerate request, rendered in one pass by engines that batch."""
        if len(contexts) == 1:
            return [await self.generate(contexts[0])]
        payloads = [GenerationPayload.from_json(context.job.payload) for context in contexts]
        specs = [payload.spec for payload in payloads]
        engine = self._engines.ready(specs[0].engine)
        assert isinstance(engine, BatchEngine)  # only an engine with max_batch > 1 is given a batch

        def progress(fraction: float, stage: str, message: str) -> None:
            progress_all_threadsafe(contexts, fraction * RENDER_SHARE, stage, message)

        renderings = await asyncio.to_thread(engine.render_batch, specs, progress)
        return [
            await self._publish(context, payload, payload.spec, rendering, engine.name)
            for context, payload, rendering in zip(contexts, payloads, renderings, strict=True)
        ]

    async def generate(self, context: JobContext) -> jobs_pb2.JobResult:
        payload = GenerationPayload.from_json(context.job.payload)
        spec = payload.spec
        engine = self._engines.ready(spec.engine)
        melody_audio = source_audio = None
        if payload.hum_blob_id and engine.melody_input == "audio":  # a re-rendered hum-to-beat
            melody_audio = await self._hum_recording(context, payload)
        if takes_source_audio(engine, spec):
            source_audio = await self._source_audio(context, payload)
        return await self._render_and_publish(
            context, payload, spec, melody_audio=melody_audio, source_audio=source_audio
        )

    async def hum_to_beat(self, context: JobContext) -> jobs_pb2.JobResult:
        payload = GenerationPayload.from_json(context.job.payload)
        spec = payload.spec
        engine = self._engines.ready(spec.engine)
        if engine.melody_input == "audio":
            melody_audio = await self._hum_recording(context, payload)
            return await self._render_and_publish(context, payload, spec, melody_audio=melody_audio)
        await context.progress(0.02, "loading_hum")
        data = await self._download_hum(context, payload)
        await context.progress(0.05, "tracking_pitch")
        melody = await asyncio.to_thread(hum.transcribe, data, spec, max_seconds=self._max_hum_seconds)
        return await self._render_and_publish(context, payload, melody.apply_to(spec), sung=melody.sung)

    async def _download_hum(self, context: JobContext, payload: GenerationPayload) -> bytes:
        return await self._blobs.download(
            payload.hum_blob_id, owner_id=context.job.owner_id, max_bytes=self._max_hum_bytes
        )

    async def _hum_recording(self, context: JobContext, payload: GenerationPayload) -> MelodyAudio:
        await context.progress(0.02, "loading_hum")
        data = await self._download_hum(context, payload)
        return await asyncio.to_thread(hum.load_recording, data, max_seconds=self._max_hum_seconds)

    async def _source_audio(self, context: JobContext, payload: GenerationPayload) -> SourceAudio:
        """The source commit's stems decoded and the mix scale its provenance records, read as the job's owner."""
        await context.progress(0.02, "loading_source")
        source, owner = payload.source, context.job.owner_id
        commit = await self._versions.commit(source.repo_id, source.commit_id, owner_id=owner)
        stems, rate = {}, 0
        for stem in commit.stems:
            data = await self._blobs.download(stem.blob_id, owner_id=owner, max_bytes=self._max_source_bytes)
            stems[stem.name], rate = await asyncio.to_thread(codec.decode, data)
        params = json_format.MessageToDict(commit.generation_params)
        return SourceAudio(stems, rate, recorded_mix_scale(params))

    async def _render_and_publish(
        self,
        context: JobContext,
        payload: GenerationPayload,
        spec: GenerationSpec,
        *,
        melody_audio: MelodyAudio | None = None,
        source_audio: SourceAudio | None = None,
        sung: Transcription | None = None,
    ) -> jobs_pb2.JobResult:
        """Renders `spec` (the payload's, or the one a hum transcription made of it) and publishes it."""
        engine = self._engines.ready(spec.engine)

        def progress(fraction: float, stage: str, message: str) -> None:
            context.progress_threadsafe(fraction * RENDER_SHARE, stage, message)

        rendering: Rendering = await asyncio.to_thread(engine.render, spec, progress, melody_audio, source_audio)
        return await self._publish(context, payload, spec, rendering, engine.name, sung)

    async def _upload(self, context: JobContext, data: bytes, filename: str, name: str) -> artifact_pb2.Artifact:
        blob = await self._blobs.upload(data, filename=filename, owner_id=context.job.owner_id)
        return artifact_pb2.Artifact(name=name, blob=blob)

    async def _publish(
        self,
        context: JobContext,
        payload: GenerationPayload,
        spec: GenerationSpec,
        rendering: Rendering,
        engine_name: str,
        sung: Transcription | None = None,
    ) -> jobs_pb2.JobResult:
        """Uploads the stems and their MIDI as blobs the job's owner can commit, and lands them as a
        commit when the request named a repository."""
        midi = dict(rendering.midi)
        if sung is not None:
            midi["hum"] = to_midi(sung)
        uploads = len(rendering.stems) + len(midi)
        artifacts, midi_artifacts = [], []
        for index, (name, samples) in enumerate(rendering.stems.items()):
            await context.progress(RENDER_SHARE + (1 - RENDER_SHARE) * index / uploads, "uploading", name)
            data = await asyncio.to_thread(codec.encode, samples, rendering.sample_rate, self._format)
            artifacts.append(await self._upload(context, data, f"{name}.{self._format.lower()}", name))
        for index, (name, notes) in enumerate(midi.items(), start=len(rendering.stems)):
            await context.progress(RENDER_SHARE + (1 - RENDER_SHARE) * index / uploads, "uploading", f"{name}.mid")
            midi_artifacts.append(await self._upload(context, midi_bytes(notes), f"{name}.mid", name))
        result = generator_pb2.GenerationResult(
            stems=artifacts,
            bpm=rendering.bpm,
            key=key_to_proto(rendering.key),
            duration_seconds=len(rendering.stems["mix"]) / rendering.sample_rate,  # an operation's, not its source's
            engine=engine_name,
            seed=spec.seed,
            melody_notes=list(rendering.melody_notes),
            transcription=transcription_to_proto(sung) if sung else None,
            renderer=rendering.renderer,
            prompt_reading=rendering.prompt_reading,
            midi=midi_artifacts,
            operation_report=rendering.report,
        )
        if payload.destination is not None:
            await context.progress(0.99, "committing")
            landed = await self._land(
                context, payload, payload.destination, spec, rendering, engine_name, artifacts, midi_artifacts
            )
            result.commit_id, result.branch = landed.commit.commit_id, landed.branch
        detail = any_pb2.Any()
        detail.Pack(result)
        return jobs_pb2.JobResult(artifacts=artifacts, detail=detail)

    async def _land(
        self,
        context: JobContext,
        payload: GenerationPayload,
        destination: Destination,
        spec: GenerationSpec,
        rendering: Rendering,
        engine_name: str,
        artifacts: list[artifact_pb2.Artifact],
        midi: list[artifact_pb2.Artifact],
    ) -> CreateCommitResponse:
        source_commit = payload.source.commit_id
        # The mix is the sum of the stems: only an engine that renders nothing else commits it.
        stems = {a.name: a.blob.blob_id for a in artifacts if a.name != "mix"} or {
            a.name: a.blob.blob_id for a in artifacts
        }
        record = Provenance(
            engine=engine_name,
            engine_version=PACKAGE_VERSION,
            model_revision=self._revisions.get(engine_name, ""),
            renderer=rendering.renderer,
            spec=spec,
            source_commit_id=source_commit,
            midi={a.name: a.blob.blob_id for a in midi},
            hum_blob_id=payload.hum_blob_id,
            mix_scale=rendering.mix_scale,
        )
        landing = Landing(
            stems=stems,
            message=commit_message(spec, rendering.bpm, rendering.key.name, list(stems), source_commit),
            bpm=rendering.bpm,
            key_signature=rendering.key.name,
            provenance=record.as_params(),
        )
        return await self._versions.land(
            destination,
            landing,
            owner_id=context.job.owner_id,
            request_id=f"generator-job-{context.job.job_id}",
        )
