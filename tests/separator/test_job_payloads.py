"""The separator's typed job payloads read and write the JSON the service always stored, and a job
stored in an earlier form still runs."""

from __future__ import annotations

from beatflow.jobs.v1 import jobs_pb2
from beatflow.separator.v1 import separator_pb2 as pb
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.payloads import AnalysisPayload, Chunking, SeparationPayload
from tests.platform.stored_jobs import queue_stored_row, stored_payload
from tests.separator.test_separator_service import song_bytes


async def test_submitted_jobs_are_stored_in_the_form_the_payloads_read(desk_factory, database_dsn):
    desk = await desk_factory(worker_concurrency=0)  # nothing runs: the rows stay as submitted
    alice = await desk.vcs.sign_up()
    track = await alice.upload(song_bytes(seconds=2))
    separator = desk.separator(alice)

    separation = (await separator.SeparateStems(pb.SeparateStemsRequest(source_blob_id=track.blob_id))).job
    stored = await stored_payload(database_dsn, separation.job_id)
    assert set(stored) == {"source_blob_id", "engine", "options", "revision", "cache_key"}
    payload = SeparationPayload.from_json(stored)
    assert (payload.source_blob_id, payload.engine, payload.chunking) == (track.blob_id, "dsp", None)
    assert payload.options == SeparationOptions(model_name="dsp") and len(payload.revision or "") == 64
    assert payload.to_json() == stored

    analysis = (await separator.SubmitAnalysis(pb.SubmitAnalysisRequest(blob_id=track.blob_id))).job
    stored = await stored_payload(database_dsn, analysis.job_id)
    assert AnalysisPayload.from_json(stored) == AnalysisPayload(track.blob_id, 1000)
    assert AnalysisPayload(track.blob_id, 1000).to_json() == stored


def test_a_chunking_engines_options_keep_their_parameters():
    stored = {
        "source_blob_id": "sha256:" + "a" * 64,
        "engine": "demucs",
        "options": {"model_name": "htdemucs", "segment_seconds": 4.0, "overlap": 0.5, "shifts": 2},
        "revision": "b" * 64,
        "cache_key": "c" * 64,
    }
    payload = SeparationPayload.from_json(stored)
    assert payload.chunking == Chunking(segment_seconds=4.0, overlap=0.5, shifts=2)
    assert payload.options == SeparationOptions("htdemucs", segment_seconds=4.0, overlap=0.5, shifts=2)
    assert payload.to_json() == stored


async def test_a_separation_stored_before_revisions_and_cache_keys_still_runs(desk, database_dsn):
    alice = await desk.vcs.sign_up()
    track = await alice.upload(song_bytes(seconds=3))
    oldest = {"source_blob_id": track.blob_id, "engine": "dsp", "options": {"model_name": "dsp"}}
    job_id = await queue_stored_row(database_dsn, "separator.separate", alice.user.user_id, oldest)

    done = await desk.finished(alice, job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    result = pb.SeparationResult()
    assert done.result.detail.Unpack(result) and (result.engine, result.model_name) == ("dsp", "dsp")
    assert {a.name for a in done.result.artifacts} == {"drums", "bass", "vocals", "other"}
    assert await stored_payload(database_dsn, job_id) == oldest, "the stored row is read, never rewritten"
