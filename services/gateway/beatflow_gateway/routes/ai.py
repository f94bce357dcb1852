"""/api/ai: generation, hum-to-beat, batch, separation and analysis."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi import Body as BodyParam
from pydantic import Field

from beatflow.common.v1 import audio_pb2
from beatflow.generator.v1 import generator_pb2 as gen
from beatflow.separator.v1 import separator_pb2 as sep
from beatflow_audio.analysis_proto import analysis_document
from beatflow_audio.proto import key_to_proto
from beatflow_audio.theory import Key
from beatflow_gateway.context import Authorised, Services, to_json
from beatflow_gateway.models import (
    INT64_MAX,
    INT64_MIN,
    Body,
    GenerationBpm,
    KeySignatureOrEmpty,
    MoodText,
    OperationStem,
    PromptText,
    RefNameOrEmpty,
    RequestId,
    Sha256,
    Sha256OrEmpty,
    Uuid,
    UuidOrEmpty,
    bounds,
    seed_field,
)
from beatflow_gateway.uploads import store_upload
from beatflow_platform import naming
from beatflow_platform.grpc.field_rules import repeated_rules

router = APIRouter(prefix="/api/ai", tags=["AI Generation"])
_BATCH = repeated_rules(gen.BatchGenerateRequest, "requests")


class SamplingBody(Body):
    temperature: float = Field(default=0.0, **bounds(gen.SamplingParams, "temperature"))
    top_k: int = Field(default=0, **bounds(gen.SamplingParams, "top_k"))
    top_p: float = Field(default=0.0, **bounds(gen.SamplingParams, "top_p"))
    guidance_scale: float = Field(default=0.0, **bounds(gen.SamplingParams, "guidance_scale"))


class OperationBody(Body):
    """A creative operation on the commit named by repo_id and commit_id (see GenerationBody)."""

    kind: Literal["continue", "repaint", "redo_stem", "loop"]
    bars: int = Field(
        default=0, **bounds(gen.Operation, "bars"), description="continue: bars added; loop: its length in bars"
    )
    start_seconds: float = Field(
        default=0.0,
        **bounds(gen.Operation, "start_seconds"),
        description="repaint: start of the range; loop: its start",
    )
    end_seconds: float = Field(default=0.0, **bounds(gen.Operation, "end_seconds"), description="repaint: its end")
    stem: OperationStem = Field(default="", description='redo_stem: the stem regenerated, e.g. "bass"')


class GenerationBody(Body):
    """The seed contract's fields (prompt, bpm, mood, duration, repo_id, commit_id) and more. With
    repo_id the result lands there as a commit on `branch` (empty: the default branch); with an
    operation, commit_id names its source and the source's prompt and settings are used."""

    prompt: PromptText = Field(default="", description="Music description; needed unless an operation has a source")
    bpm: GenerationBpm = 0
    mood: MoodText = "neutral"
    duration: float = Field(
        default=15, ge=naming.MIN_GENERATION_SECONDS, description="Seconds; the longest depends on the engine"
    )
    key: KeySignatureOrEmpty = Field(default="", description="e.g. 'A minor', 'F#m'; empty derives it from the mood")
    engine: str = Field(default="", max_length=40)
    seed: int = seed_field()
    sampling: SamplingBody = SamplingBody()
    repo_id: UuidOrEmpty | None = None
    commit_id: Sha256OrEmpty | None = None
    branch: RefNameOrEmpty = ""
    operation: OperationBody | None = None
    request_id: RequestId = ""


class RerenderBody(Body):
    repo_id: Uuid
    commit_id: Sha256 = Field(description="A commit the generator made (its generation_params hold the provenance)")
    branch: RefNameOrEmpty = Field(default="", description="Where the result lands; empty: it is only a job")
    request_id: RequestId = ""


class SeparationBody(Body):
    blob_id: Sha256 = Field(description="An uploaded file's blob id (never a server path)")
    engine: str = Field(default="", max_length=40)
    model_name: str = Field(default="", max_length=40)
    segment_seconds: float = Field(default=0.0, **bounds(sep.DemucsOptions, "segment_seconds"))
    overlap: float = Field(default=0.0, **bounds(sep.DemucsOptions, "overlap"))
    shifts: int = Field(default=0, **bounds(sep.DemucsOptions, "shifts"))
    request_id: RequestId = ""


def key_proto(text: str) -> audio_pb2.MusicalKey | None:
    """The key of a request; its shape was checked against `naming.KEY_SIGNATURE` already."""
    return key_to_proto(Key.parse(text)) if text else None


def generation_params(body: GenerationBody) -> gen.GenerationParams:
    return gen.GenerationParams(
        prompt=body.prompt,
        bpm=body.bpm,
        mood=body.mood,
        duration_seconds=body.duration,
        key=key_proto(body.key),
        engine=body.engine,
        seed=body.seed,
        sampling=gen.SamplingParams(**body.sampling.model_dump()),
        repo_id=body.repo_id or "",
        commit_id=body.commit_id or "",
        branch=body.branch,
        operation=gen.Operation(**body.operation.model_dump()) if body.operation else None,
    )


def queued(job) -> dict:
    return {**to_json(job), "message": "queued; follow it at /ws/jobs/{id} or poll /api/ai/status/{id}"}


@router.post("/generate", status_code=202)
async def generate(body: GenerationBody, call: Authorised, services: Services) -> dict:
    """Queues a generation and returns its task id at once."""
    response = await services.generation.Generate(
        gen.GenerateRequest(params=generation_params(body), request_id=body.request_id),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return queued(response.job)


@router.post("/batch-generate", status_code=202)
async def batch_generate(
    call: Authorised,
    services: Services,
    requests: list[GenerationBody] = BodyParam(max_length=_BATCH.max_items, min_length=_BATCH.min_items),
) -> dict:
    """Variations of one idea: the body is the list of generation requests, one job each."""
    response = await services.generation.BatchGenerate(
        gen.BatchGenerateRequest(requests=[generation_params(r) for r in requests]),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    jobs = [queued(job) for job in response.jobs]
    return {
        "task_ids": [job["task_id"] for job in jobs],
        "count": len(jobs),
        "jobs": jobs,
        "message": "Batch generation queued",
    }


@router.post("/rerender", status_code=202)
async def rerender(body: RerenderBody, call: Authorised, services: Services) -> dict:
    """Runs again the generation a commit records (the procedural engine gives the same stem blobs);
    with `branch` the result lands there as a commit."""
    response = await services.generation.Rerender(
        gen.RerenderRequest(
            repo_id=body.repo_id, commit_id=body.commit_id, branch=body.branch, request_id=body.request_id
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return queued(response.job)


@router.post("/hum-to-beat", status_code=202)
async def hum_to_beat(
    request: Request,
    call: Authorised,
    services: Services,
    file_upload: UploadFile = File(description="A hummed or sung recording (WAV, FLAC, OGG, MP3)"),
    bpm: GenerationBpm = Query(default=0, description="0 follows the recording's tempo"),
    mood: MoodText = "neutral",
    duration: float = Query(default=15, ge=naming.MIN_GENERATION_SECONDS, allow_inf_nan=False),
    key: KeySignatureOrEmpty = "",
    engine: str = Query(default="", max_length=40),
    seed: int = Query(default=0, ge=INT64_MIN, le=INT64_MAX),
    repo_id: UuidOrEmpty = Query(default="", description="Land the beat in this repository as a commit"),
    branch: RefNameOrEmpty = Query(default="", description="With repo_id: the branch (default: the repository's)"),
) -> dict:
    blob = await store_upload(file_upload, call, services, request.app.state.settings.max_upload_bytes)
    params = gen.GenerationParams(
        bpm=bpm,
        mood=mood,
        duration_seconds=duration,
        key=key_proto(key),
        engine=engine,
        seed=seed,
        repo_id=repo_id,
        branch=branch,
    )
    response = await services.generation.HumToBeat(
        gen.HumToBeatRequest(hum_blob_id=blob.blob_id, params=params), metadata=call.metadata, timeout=call.timeout
    )
    return {**queued(response.job), "hum_blob": to_json(blob)}


@router.post("/separate-stems", status_code=202)
async def separate_stems(body: SeparationBody, call: Authorised, services: Services) -> dict:
    response = await services.separation.SeparateStems(
        sep.SeparateStemsRequest(
            source_blob_id=body.blob_id,
            engine=body.engine,
            demucs=sep.DemucsOptions(
                model_name=body.model_name,
                segment_seconds=body.segment_seconds,
                overlap=body.overlap,
                shifts=body.shifts,
            ),
            request_id=body.request_id,
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return queued(response.job)


class AnalysisJobBody(Body):
    blob_id: Sha256 = Field(description="An uploaded file's blob id")
    waveform_points: int = Field(default=0, **bounds(sep.SubmitAnalysisRequest, "waveform_points"))
    request_id: RequestId = ""


@router.post("/analyze-audio")
async def analyze_audio(
    call: Authorised,
    services: Services,
    blob_id: Sha256 = Query(description="An uploaded file's blob id"),
    waveform_points: int = Query(default=0, **bounds(sep.AnalyzeAudioRequest, "waveform_points")),
) -> dict:
    """Analysis in one call (files up to the service's unary limit, 600 s by default; longer ones go to
    /api/ai/analysis-jobs); the seed contract's bpm, key_signature and duration are included."""
    response = await services.separation.AnalyzeAudio(
        sep.AnalyzeAudioRequest(blob_id=blob_id, waveform_points=waveform_points),
        metadata=call.metadata,
        timeout=call.slow_timeout,
    )
    return analysis_document(response.analysis)


@router.post("/analysis-jobs", status_code=202)
async def submit_analysis(body: AnalysisJobBody, call: Authorised, services: Services) -> dict:
    """Queues the same analysis as a job, for files of any length; the job's result holds the analysis."""
    response = await services.separation.SubmitAnalysis(
        sep.SubmitAnalysisRequest(
            blob_id=body.blob_id, waveform_points=body.waveform_points, request_id=body.request_id
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return queued(response.job)
