"""beatflow.separator.v1.SeparatorService: separation and long analyses as jobs; quick analysis,
mixdown and conversion as unary calls working on blobs as the caller."""

from __future__ import annotations

import asyncio
from typing import cast

import grpc

from beatflow.common.v1 import audio_pb2
from beatflow.jobs.v1 import jobs_pb2
from beatflow.separator.v1 import separator_pb2, separator_pb2_grpc
from beatflow_audio import codec
from beatflow_audio.analysis import analyse
from beatflow_audio.analysis_proto import analysis_to_proto
from beatflow_audio.proto import FORMAT_FROM_PROTO
from beatflow_platform.auth import current_principal
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.errors import FailedPrecondition, InvalidArgument
from beatflow_platform.jobs.model import Priority
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.servicer import job_to_proto
from beatflow_separator import mixing
from beatflow_separator.audio_input import read_audio
from beatflow_separator.cache import SeparationCache, cache_key
from beatflow_separator.engines.base import StreamingSeparator
from beatflow_separator.engines.registry import Separators
from beatflow_separator.jobs import ANALYZE, SEPARATE
from beatflow_separator.payloads import AnalysisPayload, Chunking, SeparationPayload
from beatflow_separator.settings import SeparatorSettings

SERVICE_NAME = separator_pb2.DESCRIPTOR.services_by_name["SeparatorService"].full_name


def _waveform_points(requested: int) -> int:
    """0 asks for the default; the contract's rule bounds the rest."""
    return requested or 1000


def _output_format(value: int) -> str:
    """FLAC unless asked for another of the formats the contract's rule allows (WAV, FLAC, MP3, OGG)."""
    if value == audio_pb2.AUDIO_FORMAT_UNSPECIFIED:
        return "FLAC"
    return FORMAT_FROM_PROTO[cast(audio_pb2.AudioFormat, value)]


def _chunking(options: separator_pb2.DemucsOptions) -> Chunking:
    """The chunking parameters, within the contract's limits (the model name is resolved by the
    engine registry); 0 overlap asks for the default."""
    return Chunking(options.segment_seconds, options.overlap or 0.25, options.shifts)


class SeparatorServicer(separator_pb2_grpc.SeparatorServiceServicer):
    def __init__(
        self,
        queue: JobQueue,
        separators: Separators,
        blobs: BlobClient,
        settings: SeparatorSettings,
        cache: SeparationCache,
    ):
        self._queue = queue
        self._separators = separators
        self._blobs = blobs
        self._settings = settings
        self._cache = cache

    async def _submit(
        self,
        kind: str,
        payload: SeparationPayload | AnalysisPayload,
        request_id: str,
        *,
        engine: str = "",
        audio_seconds: float = 0.0,
        priority: Priority = Priority.INTERACTIVE,
    ) -> jobs_pb2.Job:
        job = await self._queue.submit(
            kind,
            current_principal().subject_id,
            payload,
            request_id=request_id,
            max_attempts=self._settings.job_max_attempts,
            priority=priority,
            audio_seconds=audio_seconds,  # counted against the owner's audio-seconds per day
            engine=engine,  # its real-time factor estimates the job's ETA
        )
        return job_to_proto(job)

    async def _read(self, blob_id: str, field: str, max_seconds: float):
        return await read_audio(
            self._blobs,
            blob_id,
            owner_id=current_principal().subject_id,
            max_bytes=self._settings.max_input_bytes,
            max_seconds=max_seconds,
            field=field,
        )

    async def SeparateStems(
        self, request: separator_pb2.SeparateStemsRequest, context: grpc.aio.ServicerContext
    ) -> separator_pb2.SeparateStemsResponse:
        engine = self._separators.ready(request.engine)
        # What the result depends on: a whole-track engine ignores the chunking.
        chunking = _chunking(request.demucs) if isinstance(engine, StreamingSeparator) else None
        parameters = chunking.to_json() if chunking else {}
        model_name, revision = await asyncio.to_thread(self._separators.resolve, engine, request.demucs.model_name)
        key = cache_key(
            source_blob_id=request.source_blob_id,
            engine=engine.name,
            model_name=model_name,
            revision=revision,
            parameters=parameters,
            stem_format=self._settings.stem_format,
        )
        owner_id = current_principal().subject_id
        if (job_id := await self._cache.find(owner_id, key)) is not None:
            return separator_pb2.SeparateStemsResponse(job=job_to_proto(await self._queue.get(job_id, owner_id)))
        seconds = await self._source_seconds(request.source_blob_id, owner_id)
        payload = SeparationPayload(request.source_blob_id, engine.name, model_name, chunking, revision, key)
        priority = Priority.BATCH if seconds > self._settings.batch_above_audio_seconds else Priority.INTERACTIVE
        job = await self._submit(
            SEPARATE, payload, request.request_id, engine=engine.name, audio_seconds=seconds, priority=priority
        )
        return separator_pb2.SeparateStemsResponse(job=job)

    async def _source_seconds(self, blob_id: str, owner_id: str) -> float:
        """The source's length from its blob record (0 when vcs never decoded it); too long, or more channels than
        the stems' format holds, is refused here, before it is queued."""
        audio = (await self._blobs.describe(blob_id, owner_id=owner_id)).audio
        if audio.channels:
            codec.require_encodable(self._settings.stem_format, audio.channels, audio.sample_rate)
        seconds = audio.duration_seconds
        if seconds > self._settings.max_audio_seconds:
            raise InvalidArgument.for_field(
                "source_blob_id",
                f"the audio is {seconds:.0f} s long; the limit is {self._settings.max_audio_seconds:.0f} s",
            )
        return seconds

    async def ListSeparationModels(
        self, request: separator_pb2.ListSeparationModelsRequest, context: grpc.aio.ServicerContext
    ) -> separator_pb2.ListSeparationModelsResponse:
        models = await asyncio.to_thread(self._separators.models)
        return separator_pb2.ListSeparationModelsResponse(
            models=[
                separator_pb2.SeparationModel(
                    engine=m.engine,
                    model_name=m.name,
                    stems=m.stems,
                    weights_present=m.weights_present,
                    detail=m.detail,
                )
                for m in models
            ]
        )

    async def AnalyzeAudio(
        self, request: separator_pb2.AnalyzeAudioRequest, context: grpc.aio.ServicerContext
    ) -> separator_pb2.AnalyzeAudioResponse:
        points = _waveform_points(request.waveform_points)
        samples, rate, description = await self._read(request.blob_id, "blob_id", self._settings.max_audio_seconds)
        if description.duration_seconds > self._settings.max_unary_analysis_seconds:
            raise FailedPrecondition(
                f"audio longer than {self._settings.max_unary_analysis_seconds:.0f} s is analysed as a job:"
                " use SubmitAnalysis",
                reason="USE_ANALYSIS_JOB",
            )
        analysis = await asyncio.to_thread(analyse, samples, rate, peak_points=points)
        return separator_pb2.AnalyzeAudioResponse(analysis=analysis_to_proto(analysis, description.format))

    async def SubmitAnalysis(
        self, request: separator_pb2.SubmitAnalysisRequest, context: grpc.aio.ServicerContext
    ) -> separator_pb2.SubmitAnalysisResponse:
        payload = AnalysisPayload(request.blob_id, _waveform_points(request.waveform_points))
        return separator_pb2.SubmitAnalysisResponse(job=await self._submit(ANALYZE, payload, request.request_id))

    async def MixStems(
        self, request: separator_pb2.MixStemsRequest, context: grpc.aio.ServicerContext
    ) -> separator_pb2.MixStemsResponse:
        if not 1 <= len(request.inputs) <= self._settings.max_mix_inputs:
            raise InvalidArgument.for_field("inputs", f"must hold 1 to {self._settings.max_mix_inputs} stems")
        audio_format = _output_format(request.format)
        inputs = []
        for index, item in enumerate(request.inputs):
            samples, rate, _ = await self._read(
                item.blob_id, f"inputs[{index}].blob_id", self._settings.max_audio_seconds
            )
            inputs.append((samples, rate, item.gain_db))
        mixed, rate, _ = await asyncio.to_thread(mixing.mix, inputs)
        return separator_pb2.MixStemsResponse(blob=await self._store(mixed, rate, audio_format, "mix"))

    async def ConvertAudio(
        self, request: separator_pb2.ConvertAudioRequest, context: grpc.aio.ServicerContext
    ) -> separator_pb2.ConvertAudioResponse:
        audio_format = _output_format(request.format)
        samples, rate, _ = await self._read(request.blob_id, "blob_id", self._settings.max_audio_seconds)
        target = request.sample_rate or codec.rate_held(audio_format, rate)
        converted = await asyncio.to_thread(mixing.resample, samples, rate, target)
        return separator_pb2.ConvertAudioResponse(blob=await self._store(converted, target, audio_format, "converted"))

    async def _store(self, samples, rate: int, audio_format: str, name: str) -> audio_pb2.BlobRef:
        data = await asyncio.to_thread(codec.encode, samples, rate, audio_format)
        return await self._blobs.upload(
            data, filename=f"{name}.{audio_format.lower()}", owner_id=current_principal().subject_id
        )
