"""The generator's typed job payload writes the JSON the service always stored, and jobs stored in an
earlier form still run."""

from __future__ import annotations

from google.protobuf import json_format

from beatflow.generator.v1 import generator_pb2 as pb
from beatflow.jobs.v1 import jobs_pb2
from beatflow_audio.theory import Key
from beatflow_generator.landing import Destination
from beatflow_generator.payloads import GenerationPayload, SourceCommit
from beatflow_generator.spec import CONTINUE, GenerationSpec, Note, Operation
from tests.generator.test_generator_service import params, result_of
from tests.generator.test_hum import TUNE, sung
from tests.generator.test_landing import commit_of
from tests.platform.stored_jobs import queue_stored_row, stored_payload

# The spec of `params()` as the job row holds it.
STORED_SPEC = {
    "prompt": "boom bap hip-hop with piano",
    "bpm": 92,
    "mood": "dark",
    "duration_seconds": 8.0,
    "key": "",
    "engine": "procedural",
    "seed": 5,
    "temperature": 0.0,
    "top_k": 0,
    "top_p": 0.0,
    "guidance_scale": 0.0,
    "melody": [],
    "operation": None,
    "source": None,
}


async def test_requests_are_stored_in_the_form_earlier_releases_wrote(studio_factory, database_dsn):
    studio = await studio_factory(worker_concurrency=0)  # nothing runs: the rows stay as submitted
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Stored")
    generator = studio.generator(alice)

    plain = (await generator.Generate(pb.GenerateRequest(params=params()))).job
    assert await stored_payload(database_dsn, plain.job_id) == {
        "spec": STORED_SPEC,
        "source": {"repo_id": "", "commit_id": ""},
    }

    landing = (await generator.Generate(pb.GenerateRequest(params=params(repo_id=repo.repo_id, branch="ideas")))).job
    assert await stored_payload(database_dsn, landing.job_id) == {
        "spec": STORED_SPEC,
        "source": {"repo_id": repo.repo_id, "commit_id": ""},
        "destination": {"repo_id": repo.repo_id, "branch": "ideas", "variation": 0},
    }

    hum = await alice.upload(sung(TUNE, 0.5), filename="hum.wav")
    hummed = (await generator.HumToBeat(pb.HumToBeatRequest(hum_blob_id=hum.blob_id, params=params()))).job
    assert await stored_payload(database_dsn, hummed.job_id) == {
        "spec": STORED_SPEC,
        "source": {"repo_id": "", "commit_id": ""},
        "hum_blob_id": hum.blob_id,
    }

    batch = pb.BatchGenerateRequest(requests=[params(repo_id=repo.repo_id), params(repo_id=repo.repo_id, seed=6)])
    variations = (await generator.BatchGenerate(batch)).jobs
    # The procedural engine renders one at a time, so its variations carry no batch id.
    assert [await stored_payload(database_dsn, job.job_id) for job in variations] == [
        {
            "spec": {**STORED_SPEC, "seed": seed},
            "source": {"repo_id": repo.repo_id, "commit_id": ""},
            "destination": {"repo_id": repo.repo_id, "branch": "", "variation": variation},
        }
        for variation, seed in ((1, 5), (2, 6))
    ]


def test_every_field_survives_the_round_trip_and_empty_ones_are_left_out():
    source_spec = GenerationSpec("lofi", 80, "calm", 4.0, Key.parse("C major"), "procedural", 3)
    spec = GenerationSpec(
        "lofi",
        80,
        "calm",
        6.0,
        Key.parse("C major"),
        "procedural",
        2**60,
        melody=(Note(0.0, 0.5, 60),),
        operation=Operation(CONTINUE, bars=1),
        source=source_spec,
    )
    full = GenerationPayload(
        spec,
        SourceCommit("repo", "commit"),
        Destination("repo", "main", 2),
        hum_blob_id="sha256:hum",
        batch_id="batch",
        rerender_of="older",
    )
    assert GenerationPayload.from_json(full.to_json()) == full
    assert set(GenerationPayload(spec).to_json()) == {"spec", "source"}


async def test_a_job_stored_before_sources_were_recorded_still_runs_and_lands(studio, database_dsn):
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Old jobs")
    # The oldest stored form: no "source", and a spec without melody, operation or source.
    oldest_spec = {name: value for name, value in STORED_SPEC.items() if name not in ("melody", "operation", "source")}
    payload = {
        "spec": {**oldest_spec, "bpm": 100, "key": "D minor", "duration_seconds": 2.0, "seed": 7},
        "destination": {"repo_id": repo.repo_id, "branch": "", "variation": 0},
    }
    job_id = await queue_stored_row(database_dsn, "generator.generate", alice.user.user_id, payload)

    done = await studio.finished(alice, job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    result = result_of(done)
    assert (result.bpm, result.seed, result.duration_seconds) == (100, 7, 2.0)
    commit = await commit_of(alice, repo.repo_id, result.commit_id)
    provenance = json_format.MessageToDict(commit.generation_params)
    assert (commit.bpm, commit.key_signature, provenance["seed"]) == (100, "D minor", "7")
    assert await stored_payload(database_dsn, job_id) == payload, "the stored row is read, never rewritten"
