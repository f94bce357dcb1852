"""The generator service end to end: requests, durable jobs, streamed progress, stems as committable blobs."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.common.v1 import audio_pb2
from beatflow.generator.v1 import generator_pb2 as pb
from beatflow.jobs.v1 import jobs_pb2
from beatflow.vcs.v1 import blobs_pb2
from beatflow_audio import codec
from beatflow_audio.theory import Key
from bench.corpus.metrics import tempo_hits
from bench.generator import plain_tempo, textbook_key
from tests.fixtures.vcs import rpc_error
from tests.generator.test_hum import TUNE, sung

STEMS = {"drums", "bass", "chords", "melody", "mix"}


def params(**fields) -> pb.GenerationParams:
    defaults = {"prompt": "boom bap hip-hop with piano", "bpm": 92, "mood": "dark", "duration_seconds": 8, "seed": 5}
    return pb.GenerationParams(**{**defaults, **fields})


async def download(caller, blob_id: str) -> bytes:
    data = b""
    async for message in caller.blobs.DownloadBlob(blobs_pb2.DownloadBlobRequest(blob_id=blob_id)):
        data += message.chunk
    return data


def result_of(job: jobs_pb2.Job) -> pb.GenerationResult:
    detail = pb.GenerationResult()
    assert job.result.detail.Unpack(detail)
    return detail


async def test_generate_streams_progress_and_yields_committable_stems(studio):
    alice = await studio.vcs.sign_up()
    key = audio_pb2.MusicalKey(tonic=audio_pb2.PITCH_CLASS_A, mode=audio_pb2.MODE_MINOR)
    submitted = (await studio.generator(alice).Generate(pb.GenerateRequest(params=params(key=key)))).job
    assert submitted.state == jobs_pb2.JOB_STATE_QUEUED and submitted.kind == "generator.generate"

    events = [
        event.job
        async for event in studio.jobs(alice).WatchJob(jobs_pb2.WatchJobRequest(job_id=submitted.job_id), timeout=60)
    ]
    assert events[-1].state == jobs_pb2.JOB_STATE_SUCCEEDED, events[-1].error
    fractions = [e.progress.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # A watch shows the job's latest state at each change, so stages a quick render passes through
    # within one read may be coalesced (the engine's full stage order is tested on the engine itself).
    assert len({e.progress.stage for e in events}) >= 2, "progress is reported stage by stage"

    result = result_of(events[-1])
    assert {a.name for a in events[-1].result.artifacts} == STEMS
    assert (result.bpm, result.engine, result.seed) == (92, "procedural", 5)
    assert (result.key.tonic, result.key.mode) == (audio_pb2.PITCH_CLASS_A, audio_pb2.MODE_MINOR)
    mix = next(a for a in result.stems if a.name == "mix")
    assert mix.blob.content_type == "audio/flac"
    assert mix.blob.audio.duration_seconds == pytest.approx(8.0, abs=0.01)

    samples, rate = codec.decode(await download(alice, mix.blob.blob_id))
    # Read by textbook estimators, not the project's analyser: the generator is under test here.
    assert textbook_key(samples, rate) == Key.parse("A minor") and tempo_hits(plain_tempo(samples, rate), 92)[0]

    repo = await alice.create_repo("Generated")
    commit = await alice.commit(
        repo.repo_id,
        {a.name: a.blob.blob_id for a in result.stems if a.name != "mix"},
        message="first beat",
        bpm=result.bpm,
        key_signature="A minor",
    )
    assert {s.name for s in commit.stems} == STEMS - {"mix"}


async def test_jobs_and_stems_are_private_to_their_owner(studio):
    alice, mallory = await studio.vcs.sign_up(), await studio.vcs.sign_up()
    job = (await studio.generator(alice).Generate(pb.GenerateRequest(params=params(duration_seconds=5)))).job
    done = await studio.finished(alice, job.job_id)
    for call in (
        studio.jobs(mallory).GetJob(jobs_pb2.GetJobRequest(job_id=job.job_id)),
        studio.jobs(mallory).CancelJob(jobs_pb2.CancelJobRequest(job_id=job.job_id)),
        download(mallory, done.result.artifacts[0].blob.blob_id),
    ):
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND
    listed = await studio.jobs(mallory).ListJobs(jobs_pb2.ListJobsRequest())
    assert list(listed.jobs) == []
    mine = await studio.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest(state=jobs_pb2.JOB_STATE_SUCCEEDED))
    assert [j.job_id for j in mine.jobs] == [job.job_id]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"bpm": 20}, "params.bpm"),
        ({"bpm": 400}, "params.bpm"),
        ({"prompt": "   "}, "params.prompt"),
        ({"prompt": "x" * 1001}, "params.prompt"),
        ({"duration_seconds": 1}, "params.duration_seconds"),
        ({"duration_seconds": 3600}, "params.duration_seconds"),
        ({"engine": "jukebox"}, "params.engine"),
        ({"sampling": pb.SamplingParams(top_p=1.5)}, "params.sampling.top_p"),
        ({"key": audio_pb2.MusicalKey(tonic=13)}, "params.key"),
        ({"key": audio_pb2.MusicalKey(tonic=audio_pb2.PITCH_CLASS_A, mode=9)}, "params.key"),
    ],
)
async def test_bad_requests_are_invalid_argument(studio, fields, field):
    alice = await studio.vcs.sign_up()
    error = await rpc_error(studio.generator(alice).Generate(pb.GenerateRequest(params=params(**fields))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error.details()


async def test_batch_makes_one_job_per_variation_and_is_idempotent(studio):
    alice = await studio.vcs.sign_up()
    request = pb.BatchGenerateRequest(
        requests=[params(seed=seed, duration_seconds=5) for seed in (1, 2, 3)], request_id="batch-1"
    )
    jobs = (await studio.generator(alice).BatchGenerate(request)).jobs
    again = (await studio.generator(alice).BatchGenerate(request)).jobs
    assert len(jobs) == 3 and [j.job_id for j in jobs] == [j.job_id for j in again]
    finished = await asyncio.gather(*(studio.finished(alice, job.job_id) for job in jobs))
    mixes = {next(a.blob.blob_id for a in job.result.artifacts if a.name == "mix") for job in finished}
    assert len(mixes) == 3, "different seeds give different music"
    error = await rpc_error(studio.generator(alice).BatchGenerate(pb.BatchGenerateRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_same_request_id_gives_the_same_job(studio):
    alice = await studio.vcs.sign_up()
    first = (await studio.generator(alice).Generate(pb.GenerateRequest(params=params(), request_id="once"))).job
    again = (await studio.generator(alice).Generate(pb.GenerateRequest(params=params(), request_id="once"))).job
    assert first.job_id == again.job_id


async def test_hum_to_beat_follows_the_hummed_melody(studio):
    alice = await studio.vcs.sign_up()
    hum = await alice.upload(sung(TUNE, 0.5), filename="hum.wav")
    request = pb.HumToBeatRequest(
        hum_blob_id=hum.blob_id,
        params=pb.GenerationParams(
            prompt="lofi",
            bpm=120,
            duration_seconds=8,
            key=audio_pb2.MusicalKey(tonic=audio_pb2.PITCH_CLASS_C, mode=audio_pb2.MODE_MAJOR),
        ),
    )
    job = (await studio.generator(alice).HumToBeat(request)).job
    done = await studio.finished(alice, job.job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    result = result_of(done)
    assert list(result.melody_notes) == TUNE * 2
    heard = result.transcription
    assert [note.pitch for note in heard.notes] == TUNE and heard.pitch_tracker == "crepe-tiny"
    assert [note.onset_seconds for note in heard.notes] == pytest.approx([0.3 + 0.5 * i for i in range(8)], abs=0.05)
    assert abs(heard.tuning_cents) < 10
    melody = next(a for a in result.stems if a.name == "melody")
    samples, rate = codec.decode(await download(alice, melody.blob.blob_id))
    # The melody stem sounds the first hummed note (C4, 261.6 Hz) at the start.
    first_note = codec.to_mono(samples)[: rate // 2]
    spectrum = np.abs(np.fft.rfft(first_note))
    assert abs(np.fft.rfftfreq(len(first_note), 1 / rate)[np.argmax(spectrum)] - 261.6) < 3


async def test_hum_to_beat_failures_end_the_job_with_a_clear_error(studio):
    alice, bob = await studio.vcs.sign_up(), await studio.vcs.sign_up()
    silence = await alice.upload(codec.encode(np.zeros(44100 * 2, dtype=np.float32), 44100, "WAV"))
    bobs_hum = await bob.upload(sung(TUNE, 0.5))
    for blob_id, code in ((silence.blob_id, "INVALID_ARGUMENT"), (bobs_hum.blob_id, "NOT_FOUND")):
        request = pb.HumToBeatRequest(hum_blob_id=blob_id, params=pb.GenerationParams(duration_seconds=5))
        job = (await studio.generator(alice).HumToBeat(request)).job
        done = await studio.finished(alice, job.job_id)
        assert (done.state, done.error.code) == (jobs_pb2.JOB_STATE_FAILED, code)
    error = await rpc_error(
        studio.generator(alice).HumToBeat(pb.HumToBeatRequest(hum_blob_id="nope", params=pb.GenerationParams()))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_cancel_a_running_generation(studio):
    alice = await studio.vcs.sign_up()
    job = (await studio.generator(alice).Generate(pb.GenerateRequest(params=params(duration_seconds=240)))).job
    cancelled = False
    async for event in studio.jobs(alice).WatchJob(jobs_pb2.WatchJobRequest(job_id=job.job_id), timeout=60):
        if event.job.state == jobs_pb2.JOB_STATE_RUNNING and not cancelled:
            response = await studio.jobs(alice).CancelJob(jobs_pb2.CancelJobRequest(job_id=job.job_id))
            assert response.job.cancel_requested
            cancelled = True
        last = event.job
    assert last.state == jobs_pb2.JOB_STATE_CANCELLED
    error = await rpc_error(studio.jobs(alice).CancelJob(jobs_pb2.CancelJobRequest(job_id=job.job_id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_list_engines(studio):
    alice = await studio.vcs.sign_up()
    engines = (await studio.generator(alice).ListEngines(pb.ListEnginesRequest())).engines
    procedural = next(e for e in engines if e.name == "procedural")
    assert procedural.available and procedural.supports_melody


async def test_musicgen_without_weights_is_a_failed_precondition(studio):
    alice = await studio.vcs.sign_up()
    error = await rpc_error(studio.generator(alice).Generate(pb.GenerateRequest(params=params(engine="musicgen"))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "MUSICGEN_MODEL_DIR" in error.details()
    engines = (await studio.generator(alice).ListEngines(pb.ListEnginesRequest())).engines
    assert not next(e for e in engines if e.name == "musicgen").available


async def test_musicgen_job_from_mounted_weights(studio_factory, musicgen_weights):
    studio = await studio_factory(musicgen_model_dir=musicgen_weights)
    alice = await studio.vcs.sign_up()
    request = pb.GenerateRequest(
        params=params(engine="musicgen", duration_seconds=5, sampling=pb.SamplingParams(top_k=50))
    )
    job = (await studio.generator(alice).Generate(request)).job
    done = await studio.finished(alice, job.job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    result = result_of(done)
    assert result.engine == "musicgen" and [a.name for a in result.stems] == ["mix"]
    assert result.stems[0].blob.audio.sample_rate == 16000
    assert result.stems[0].blob.audio.duration_seconds == pytest.approx(5.0, abs=0.01)


async def test_hum_to_beat_with_musicgen_melody_follows_the_recording(studio_factory, musicgen_weights, melody_weights):
    studio = await studio_factory(musicgen_model_dir=musicgen_weights, musicgen_melody_model_dir=melody_weights)
    alice = await studio.vcs.sign_up()
    hum = await alice.upload(sung(TUNE, 0.5), filename="hum.wav")
    request = pb.HumToBeatRequest(
        hum_blob_id=hum.blob_id, params=pb.GenerationParams(prompt="lofi", engine="musicgen-melody", duration_seconds=5)
    )
    job = (await studio.generator(alice).HumToBeat(request)).job
    done = await studio.finished(alice, job.job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    assert result_of(done).engine == "musicgen-melody"
    text_only = pb.HumToBeatRequest(hum_blob_id=hum.blob_id, params=pb.GenerationParams(engine="musicgen"))
    error = await rpc_error(studio.generator(alice).HumToBeat(text_only))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot follow a melody" in error.details()


async def test_musicgen_batch_variations_share_a_batch(studio_factory, musicgen_weights):
    studio = await studio_factory(musicgen_model_dir=musicgen_weights)
    alice = await studio.vcs.sign_up()
    request = pb.BatchGenerateRequest(
        requests=[params(engine="musicgen", duration_seconds=5, seed=seed) for seed in (1, 2, 3)]
    )
    jobs = (await studio.generator(alice).BatchGenerate(request)).jobs
    finished = await asyncio.gather(*(studio.finished(alice, job.job_id) for job in jobs))
    assert [job.state for job in finished] == [jobs_pb2.JOB_STATE_SUCCEEDED] * 3
    mixes = {job.result.artifacts[0].blob.blob_id for job in finished}
    assert len(mixes) == 3


def violated_fields(error: grpc.aio.AioRpcError) -> set[str]:
    fields = set()
    for detail in rpc_status.from_call(error).details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields |= {v.field for v in bad.field_violations}
    return fields


async def test_job_record_shows_the_request_with_the_seed_used(studio):
    alice, bob = await studio.vcs.sign_up(), await studio.vcs.sign_up()
    repo = await alice.create_repo("Sketches")
    take = await alice.upload(sung(TUNE, 0.5))
    commit = await alice.commit(repo.repo_id, {"vocals": take.blob_id})
    key = audio_pb2.MusicalKey(tonic=audio_pb2.PITCH_CLASS_D, mode=audio_pb2.MODE_MINOR)
    asked = params(
        seed=0,
        duration_seconds=5,
        key=key,
        repo_id=repo.repo_id,
        commit_id=commit.commit_id,
        sampling=pb.SamplingParams(temperature=0.5),
    )
    job = (await studio.generator(alice).Generate(pb.GenerateRequest(params=asked))).job

    record = json_format.MessageToDict((await studio.jobs(alice).GetJob(jobs_pb2.GetJobRequest(job_id=job.job_id))).job)
    request = record["request"]
    assert {k: request[k] for k in ("prompt", "bpm", "mood", "duration_seconds", "key", "engine")} == {
        "prompt": asked.prompt,
        "bpm": 92,
        "mood": "dark",
        "duration_seconds": 5,
        "key": "D minor",
        "engine": "procedural",
    }
    assert (request["repo_id"], request["commit_id"]) == (repo.repo_id, commit.commit_id)
    assert request["sampling"]["temperature"] == 0.5 and request["seed"] != "0"
    done = await studio.finished(alice, job.job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    assert request["seed"] == str(result_of(done).seed), "the record shows the seed the music was rendered with"

    error = await rpc_error(studio.jobs(bob).GetJob(jobs_pb2.GetJobRequest(job_id=job.job_id)))
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "violated"),
    [
        ({"repo_id": "my-repo"}, {"params.repo_id"}),
        ({"repo_id": "0b7c6a52-3a4e-4a8e-9d55-1b1f0e6c2d10", "commit_id": "HEAD"}, {"params.commit_id"}),
        ({"commit_id": "a" * 64}, {"params.repo_id"}),
    ],
)
async def test_malformed_source_ids_are_refused(studio, fields, violated):
    alice = await studio.vcs.sign_up()
    error = await rpc_error(studio.generator(alice).Generate(pb.GenerateRequest(params=params(**fields))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == violated
    batch = pb.BatchGenerateRequest(requests=[params(), params(**fields)])
    error = await rpc_error(studio.generator(alice).BatchGenerate(batch))
    assert violated_fields(error) == {field.replace("params", "requests[1]") for field in violated}
    jobs = (await studio.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest())).jobs
    assert not jobs, "nothing is queued for a refused request"


async def test_a_project_the_caller_cannot_read_is_not_found_and_nothing_is_queued(studio):
    alice, bob = await studio.vcs.sign_up(), await studio.vcs.sign_up()
    private = await bob.create_repo("Bob secrets")
    mine = await alice.create_repo("Mine")
    elsewhere = await bob.commit(private.repo_id, {"vocals": (await bob.upload(sung(TUNE, 0.5))).blob_id})
    for fields in (
        {"repo_id": "0b7c6a52-3a4e-4a8e-9d55-1b1f0e6c2d10"},  # no such repository
        {"repo_id": private.repo_id},  # someone else's private repository
        {"repo_id": mine.repo_id, "commit_id": elsewhere.commit_id},  # a commit from another repository
    ):
        error = await rpc_error(studio.generator(alice).Generate(pb.GenerateRequest(params=params(**fields))))
        assert error.code() == grpc.StatusCode.NOT_FOUND, fields
        batch = pb.BatchGenerateRequest(requests=[params(), params(**fields)])
        assert (await rpc_error(studio.generator(alice).BatchGenerate(batch))).code() == grpc.StatusCode.NOT_FOUND
    assert not (await studio.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest())).jobs
