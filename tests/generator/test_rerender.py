"""Re-rendering a generated commit from its provenance: the procedural engine gives the same blobs."""

from __future__ import annotations

import io

import grpc
import pretty_midi
import pytest
from beatflow_sdk.client import AsyncBeatFlow, Endpoints, JobFailed
from google.protobuf import json_format

from beatflow.common.v1 import audio_pb2
from beatflow.generator.v1 import generator_pb2 as pb
from beatflow.jobs.v1 import jobs_pb2
from tests.fixtures.vcs import rpc_error
from tests.generator.test_generator_service import download, params, result_of, violated_fields
from tests.generator.test_hum import TUNE, sung
from tests.generator.test_landing import commit_of, land, stems_of


async def rerender(studio, caller, **fields) -> jobs_pb2.Job:
    job = (await studio.generator(caller).Rerender(pb.RerenderRequest(**fields))).job
    done = await studio.finished(caller, job.job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    return done


async def test_a_rerender_gives_the_same_stem_and_midi_blobs_and_can_land_on_a_branch(studio):
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Again")
    original = await land(studio, alice, pb.GenerateRequest(params=params(repo_id=repo.repo_id, seed=0)))
    commit = await commit_of(alice, repo.repo_id, original.commit_id)
    provenance = json_format.MessageToDict(commit.generation_params)
    assert provenance["seed"] == str(original.seed) != "0", "the drawn seed is recorded"

    done = await rerender(studio, alice, repo_id=repo.repo_id, commit_id=original.commit_id)
    again = result_of(done)
    assert {a.name: a.blob.blob_id for a in again.stems if a.name != "mix"} == stems_of(commit)
    assert {a.name: a.blob.blob_id for a in again.midi} == provenance["midi"]
    assert again.commit_id == "", "without a branch a re-render lands nowhere"
    assert done.request["rerender_of"] == original.commit_id

    landed = result_of(
        await rerender(studio, alice, repo_id=repo.repo_id, commit_id=original.commit_id, branch="take-2")
    )
    copy = await commit_of(alice, repo.repo_id, landed.commit_id)
    assert landed.branch == "take-2" and stems_of(copy) == stems_of(commit)
    assert list(copy.parent_ids) == [original.commit_id]


async def test_an_operation_and_a_hum_to_beat_render_again_from_their_provenance(studio):
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Chain")
    source = await land(studio, alice, pb.GenerateRequest(params=params(repo_id=repo.repo_id, duration_seconds=6)))
    redo = await land(
        studio,
        alice,
        pb.GenerateRequest(
            params=pb.GenerationParams(
                repo_id=repo.repo_id, commit_id=source.commit_id, operation=pb.Operation(kind="redo_stem", stem="bass")
            )
        ),
    )
    again = result_of(await rerender(studio, alice, repo_id=repo.repo_id, commit_id=redo.commit_id))
    assert {a.name: a.blob.blob_id for a in again.stems} == {a.name: a.blob.blob_id for a in redo.stems}

    hum = await alice.upload(sung(TUNE, 0.5), filename="hum.wav")
    key = audio_pb2.MusicalKey(tonic=audio_pb2.PITCH_CLASS_C, mode=audio_pb2.MODE_MAJOR)
    request = pb.HumToBeatRequest(
        hum_blob_id=hum.blob_id,
        params=pb.GenerationParams(bpm=120, duration_seconds=8, key=key, repo_id=repo.repo_id, branch="hummed"),
    )
    job = (await studio.generator(alice).HumToBeat(request)).job
    beat = result_of(await studio.finished(alice, job.job_id))
    # The transcribed melody comes back as MIDI too, notes as sung (before quantising).
    sung_midi = next(a for a in beat.midi if a.name == "hum")
    heard = pretty_midi.PrettyMIDI(io.BytesIO(await download(alice, sung_midi.blob.blob_id)))
    assert [note.pitch for note in heard.instruments[0].notes] == TUNE
    again = result_of(await rerender(studio, alice, repo_id=repo.repo_id, commit_id=beat.commit_id))
    assert {a.name: a.blob.blob_id for a in again.stems} == {a.name: a.blob.blob_id for a in beat.stems}


async def test_rerender_refusals(studio):
    alice, bob = await studio.vcs.sign_up(), await studio.vcs.sign_up()
    repo = await alice.create_repo("Handmade")
    handmade = await alice.commit(repo.repo_id, {"vocals": (await alice.upload(sung(TUNE, 0.5))).blob_id})
    generator = studio.generator(alice)

    error = await rpc_error(generator.Rerender(pb.RerenderRequest(repo_id=repo.repo_id, commit_id=handmade.commit_id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "no generator provenance" in error.details()
    error = await rpc_error(generator.Rerender(pb.RerenderRequest(repo_id="nope", branch="a b")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == {"repo_id", "commit_id", "branch"}
    error = await rpc_error(
        studio.generator(bob).Rerender(pb.RerenderRequest(repo_id=repo.repo_id, commit_id=handmade.commit_id))
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert not (await studio.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest())).jobs


async def test_the_sdk_generates_into_a_repository_loops_and_rerenders(studio):
    alice, bob = await studio.vcs.sign_up(), await studio.vcs.sign_up()
    repo = await alice.create_repo("Sdk")
    bobs = await bob.create_repo("Bob in public", is_public=True)
    endpoints = Endpoints(vcs=f"127.0.0.1:{studio.vcs.port}", generator=f"127.0.0.1:{studio.port}")
    async with AsyncBeatFlow(endpoints, token=alice.tokens.access_token) as bf:
        first = await bf.generate(params(repo_id=repo.repo_id))
        loop = pb.Operation(kind="loop", bars=2)
        looped = await bf.generate(pb.GenerationParams(repo_id=repo.repo_id, commit_id=first.commit_id, operation=loop))
        again = await bf.rerender(repo.repo_id, looped.commit_id)
        # A public repository can be read, not written: the job renders, then fails to land.
        with pytest.raises(JobFailed) as failed:
            await bf.generate(params(repo_id=bobs.repo_id, duration_seconds=5))
    assert [a.blob.blob_id for a in again.stems] == [a.blob.blob_id for a in looped.stems]
    assert failed.value.job.error.code == "PERMISSION_DENIED"
