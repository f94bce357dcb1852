"""beatflow.separator.v1.SeparatorService: separation and long analyses as jobs; quick analysis,
mixdown and conversion as unary calls working on blobs as the caller."""

from __future__ import annotations

import asyncio
import math

from beatflow.common.v1 import audio_pb2
from beatflow.separator.v1 import separator_pb2, separator_pb2_grpc
from beatflow_audio import codec
from beatflow_audio.analysis import analyse
from beatflow_audio.analysis_proto import analysis_to_proto
from beatflow_audio.proto import FORMAT_FROM_PROTO
from beatflow_platform.auth import current_principal
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from beatflow_platform.jobs.model import Priority
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.servicer import job_to_proto
from beatflow_platform.objectstore import is_blob_id
from beatflow_separator import mixing
from beatflow_separator.audio_input import read_audio
from beatflow_separator.cache import SeparationCache, cache_key
from beatflow_separator.engines.base import StreamingSeparator
from beatflow_separator.engines.registry import Separators
from beatflow_separator.jobs import ANALYZE, SEPARATE
from beatflow_separator.settings import SeparatorSettings

SERVICE_NAME = separator_pb2.DESCRIPTOR.services_by_name["SeparatorService"].full_name
MAX_WAVEFORM_POINTS = 10_000
MAX_GAIN_DB = 24.0


def _waveform_points(requested: int) -> int:
    if not 0 <= requested <= MAX_WAVEFORM_POINTS:
        raise InvalidArgument.for_field("waveform_points", f"must be 0 (1000) to {MAX_WAVEFORM_POINTS}")
    return requested or 1000


def _output_format(value: int) -> str:
    if value == audio_pb2.AUDIO_FORMAT_UNSPECIFIED:
        return "FLAC"
    if value not in FORMAT_FROM_PROTO:
        raise InvalidArgument.for_field("format", "must be WAV, FLAC, MP3 or OGG")
    return FORMAT_FROM_PROTO[value]


def _check_demucs_options(options: separator_pb2.DemucsOptions) -> dict:
    """The chunking parameters (the model name is resolved by the engine registry)."""
    violations = []
    if not 0 <= options.overlap <= 0.9 or not math.isfinite(options.overlap):
        violations.append(FieldViolation("demucs.overlap", "must be 0 to 0.9"))
    if not 0 <= options.shifts <= 10:
        violations.append(FieldViolation("demucs.shifts", "must be 0 to 10"))
    if not 0 <= options.segment_seconds <= 60 or not math.isfinite(options.segment_seconds):
        violations.append(FieldViolation("demucs.segment_seconds", "must be 0 (model default) to 60"))
    if violations:
        raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations)
    return {
        "segment_seconds": options.segment_seconds,
        "overlap": options.overlap or 0.25,
        "shifts": options.shifts,
    }


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
        payload: dict,
        request_id: str,
        *,
        audio_seconds: float = 0.0,
        priority: Priority = Priority.INTERACTIVE,
    ):
        job = await self._queue.submit(
            kind,
            current_principal().subject_id,
            payload,
            request_id=request_id,
            max_attempts=self._settings.job_max_attempts,
            priority=priority,
            audio_seconds=audio_seconds,  # counted against the owner's audio-seconds per day
            engine=payload.get("engine", ""),  # its real-time factor estimates the job's ETA
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

    async def SeparateStems(self, request, context):
        if not is_blob_id(request.source_blob_id):
            raise InvalidArgument.for_field("source_blob_id", "must be the blob id of an uploaded file")
        engine = self._separators.ready(request.engine)
        demucs_options = _check_demucs_options(request.demucs)
        parameters = demucs_options if isinstance(engine, StreamingSeparator) else {}  # what the result depends on
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
        payload = {
            "source_blob_id": request.source_blob_id,
            "engine": engine.name,
            "options": {"model_name": model_name, **parameters},
            "revision": revision,
            "cache_key": key,
        }
        priority = Priority.BATCH if seconds > self._settings.batch_above_audio_seconds else Priority.INTERACTIVE
        job = await self._submit(SEPARATE, payload, request.request_id, audio_seconds=seconds, priority=priority)
        return separator_pb2.SeparateStemsResponse(job=job)

    async def _source_seconds(self, blob_id: str, owner_id: str) -> float:
        """The source's length from its blob record (0 when vcs never decoded it); too long is refused here,
        before it is queued."""
        seconds = (await self._blobs.describe(blob_id, owner_id=owner_id)).audio.duration_seconds
        if seconds > self._settings.max_audio_seconds:
            raise InvalidArgument.for_field(
                "source_blob_id",
                f"the audio is {seconds:.0f} s long; the limit is {self._settings.max_audio_seconds:.0f} s",
            )
        return seconds

    async def ListSeparationModels(self, request, context):
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

    async def AnalyzeAudio(self, request, context):
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

    async def SubmitAnalysis(self, request, context):
        if not is_blob_id(request.blob_id):
            raise InvalidArgument.for_field("blob_id", "must be the blob id of an uploaded file")
        payload = {"blob_id": request.blob_id, "waveform_points": _waveform_points(request.waveform_points)}
        return separator_pb2.SubmitAnalysisResponse(job=await self._submit(ANALYZE, payload, request.request_id))

    async def MixStems(self, request, context):
        if not 1 <= len(request.inputs) <= self._settings.max_mix_inputs:
            raise InvalidArgument.for_field("inputs", f"must hold 1 to {self._settings.max_mix_inputs} stems")
        audio_format = _output_format(request.format)
        inputs = []
        for index, item in enumerate(request.inputs):
            if not -60.0 <= item.gain_db <= MAX_GAIN_DB or not math.isfinite(item.gain_db):
                raise InvalidArgument.for_field(f"inputs[{index}].gain_db", f"must be -60 to {MAX_GAIN_DB:.0f} dB")
            samples, rate, _ = await self._read(
                item.blob_id, f"inputs[{index}].blob_id", self._settings.max_audio_seconds
            )
            inputs.append((samples, rate, item.gain_db))
        mixed, rate, _ = await asyncio.to_thread(mixing.mix, inputs)
        return separator_pb2.MixStemsResponse(blob=await self._store(mixed, rate, audio_format, "mix"))

    async def ConvertAudio(self, request, context):
        audio_format = _output_format(request.format)
        if request.sample_rate and not 8000 <= request.sample_rate <= 192000:
            raise InvalidArgument.for_field("sample_rate", "must be 8000 to 192000, or 0 to keep the source rate")
        samples, rate, _ = await self._read(request.blob_id, "blob_id", self._settings.max_audio_seconds)
        target = request.sample_rate or rate
        converted = await asyncio.to_thread(mixing.resample, samples, rate, target)
        return separator_pb2.ConvertAudioResponse(blob=await self._store(converted, target, audio_format, "converted"))

    async def _store(self, samples, rate: int, audio_format: str, name: str) -> audio_pb2.BlobRef:
        data = await asyncio.to_thread(codec.encode, samples, rate, audio_format)
        return await self._blobs.upload(
            data, filename=f"{name}.{audio_format.lower()}", owner_id=current_principal().subject_id
        )
