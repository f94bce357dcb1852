"""Generations that land in a repository: commits with provenance, MIDI beside the audio, branches
and variations, and creative operations on a generated commit."""

from __future__ import annotations

import asyncio
import io

import grpc
import pretty_midi
import pytest
from google.protobuf import json_format

from beatflow.generator.v1 import generator_pb2 as pb
from beatflow.jobs.v1 import jobs_pb2
from beatflow.vcs.v1 import version_control_pb2 as vc
from beatflow_audio import codec
from beatflow_audio.proto import key_from_proto
from tests.fixtures.vcs import rpc_error
from tests.generator.test_generator_service import download, params, result_of, violated_fields
from tests.generator.test_hum import TUNE, sung

GENERATED = {"drums", "bass", "chords", "melody"}


async def land(studio, caller, request: pb.GenerateRequest) -> pb.GenerationResult:
    job = (await studio.generator(caller).Generate(request)).job
    done = await studio.finished(caller, job.job_id)
    assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    return result_of(done)


async def commit_of(caller, repo_id: str, commit_id: str) -> vc.Commit:
    return (await caller.vc.GetCommit(vc.GetCommitRequest(repo_id=repo_id, commit_id=commit_id))).commit


def stems_of(commit: vc.Commit) -> dict[str, str]:
    return {stem.name: stem.blob_id for stem in commit.stems}


async def test_a_generation_lands_as_an_edit_of_the_branch_head_with_its_provenance_and_midi(studio):
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Landing")
    vocals = await alice.upload(sung(TUNE, 0.5), filename="vocals.wav")
    first = await alice.commit(repo.repo_id, {"vocals": vocals.blob_id}, message="a sung idea")

    result = await land(studio, alice, pb.GenerateRequest(params=params(repo_id=repo.repo_id, seed=11)))

    assert result.branch == "main" and result.commit_id
    commit = await commit_of(alice, repo.repo_id, result.commit_id)
    assert list(commit.parent_ids) == [first.commit_id]
    assert stems_of(commit) == {"vocals": vocals.blob_id} | {
        a.name: a.blob.blob_id for a in result.stems if a.name != "mix"
    }
    assert (commit.bpm, commit.key_signature) == (result.bpm, key_from_proto(result.key).name)
    assert commit.message.startswith('Generate "boom bap hip-hop with piano" (procedural, seed 11)')
    provenance = json_format.MessageToDict(commit.generation_params)
    assert provenance["engine"] == "procedural" and provenance["seed"] == "11" and provenance["engine_version"]
    assert provenance["spec"]["prompt"] == "boom bap hip-hop with piano" and provenance["spec"]["bpm"] == 92
    assert provenance["renderer"] == result.renderer and provenance["operation"] == ""

    # Every composed stem's MIDI is a blob beside the audio, named in the result and the provenance.
    midi = {artifact.name: artifact.blob for artifact in result.midi}
    assert set(midi) == GENERATED
    assert provenance["midi"] == {name: blob.blob_id for name, blob in midi.items()}
    assert {blob.content_type for blob in midi.values()} == {"audio/midi"}
    bass = pretty_midi.PrettyMIDI(io.BytesIO(await download(alice, midi["bass"].blob_id)))
    notes = [note for instrument in bass.instruments for note in instrument.notes]
    assert notes and max(note.end for note in notes) <= 8.0 + 1e-6

    record = json_format.MessageToDict((await studio.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest())).jobs[0])[
        "request"
    ]
    assert record["lands_in"] == {"repo_id": repo.repo_id, "branch": "", "variation": 0}


async def test_a_new_branch_starts_at_the_default_head_and_variations_get_their_own_branches(studio):
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Branches")
    base = await land(studio, alice, pb.GenerateRequest(params=params(repo_id=repo.repo_id, duration_seconds=5)))

    idea = await land(
        studio, alice, pb.GenerateRequest(params=params(repo_id=repo.repo_id, branch="ideas/dark", seed=8))
    )
    assert idea.branch == "ideas/dark"
    assert list((await commit_of(alice, repo.repo_id, idea.commit_id)).parent_ids) == [base.commit_id]

    batch = pb.BatchGenerateRequest(
        requests=[params(repo_id=repo.repo_id, duration_seconds=5, seed=seed) for seed in (21, 22)]
    )
    jobs = (await studio.generator(alice).BatchGenerate(batch)).jobs
    results = [result_of(job) for job in await asyncio.gather(*(studio.finished(alice, j.job_id) for j in jobs))]
    assert [r.branch for r in results] == ["main-var-1", "main-var-2"]
    heads = {
        b.name: b.commit_id
        for b in (await alice.vc.ListBranches(vc.ListBranchesRequest(repo_id=repo.repo_id))).branches
    }
    assert heads == {
        "main": base.commit_id,
        "ideas/dark": idea.commit_id,
        "main-var-1": results[0].commit_id,
        "main-var-2": results[1].commit_id,
    }
    drums = {stems_of(await commit_of(alice, repo.repo_id, r.commit_id))["drums"] for r in results}
    assert len(drums) == 2, "each variation has its own seed"


async def test_operations_build_on_a_generated_commit(studio):
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Session")
    source = await land(studio, alice, pb.GenerateRequest(params=params(repo_id=repo.repo_id, seed=3)))
    source_stems = stems_of(await commit_of(alice, repo.repo_id, source.commit_id))

    def on_source(**operation) -> pb.GenerateRequest:
        return pb.GenerateRequest(
            params=pb.GenerationParams(
                repo_id=repo.repo_id, commit_id=source.commit_id, seed=40, operation=pb.Operation(**operation)
            )
        )

    # Redo the bass: only the bass changes; the operation runs with the source's tempo and key.
    redo = await land(studio, alice, on_source(kind="redo_stem", stem="bass"))
    redone = await commit_of(alice, repo.repo_id, redo.commit_id)
    changed = {name for name, blob in stems_of(redone).items() if source_stems[name] != blob}
    assert changed == {"bass"} and (redo.bpm, redo.key) == (source.bpm, source.key)
    provenance = json_format.MessageToDict(redone.generation_params)
    assert provenance["operation"] == "redo_stem" and provenance["source_commit_id"] == source.commit_id
    assert provenance["spec"]["source"]["seed"] == "3" and redone.message.startswith(
        f"Redo the bass of {source.commit_id[:12]}"
    )

    # Continue by 2 bars (2.6 s at 92 bpm) on a branch of its own.
    longer = await land(
        studio,
        alice,
        pb.GenerateRequest(
            params=pb.GenerationParams(
                repo_id=repo.repo_id,
                commit_id=source.commit_id,
                branch="longer",
                operation=pb.Operation(kind="continue", bars=2),
            )
        ),
    )
    continued = await commit_of(alice, repo.repo_id, longer.commit_id)
    seconds = [stem.audio.duration_seconds for stem in continued.stems]
    assert seconds == [pytest.approx(8 + 2 * 4 * 60 / 92, abs=0.01)] * len(GENERATED)

    # Repaint 2.7-5.1 s, snapped outwards to bars 2-3: outside them every committed stem is the
    # source commit's, sample for sample (the service splices into the source's stored stems).
    repaint = await land(studio, alice, on_source(kind="repaint", start_seconds=2.7, end_seconds=5.1))
    repainted_stems = stems_of(await commit_of(alice, repo.repo_id, repaint.commit_id))
    bar_frames = 4 * 60 / 92 * 44100
    head, tail = int(bar_frames - 0.1 * 44100), int(3 * bar_frames + 0.1 * 44100)
    for name, blob_id in source_stems.items():
        before, after = [codec.decode(await download(alice, blob))[0] for blob in (blob_id, repainted_stems[name])]
        assert len(before) == len(after) and not (before == after).all(), name
        assert (before[:head] == after[:head]).all() and (before[tail:] == after[tail:]).all(), name

    # A loop of 2 bars reports its seam.
    loop = await land(studio, alice, on_source(kind="loop", bars=2))
    assert json_format.MessageToDict(loop.operation_report)


BAD_OPERATIONS = [
    ({"kind": "repaint", "start_seconds": 4, "end_seconds": 3}, "params.operation.start_seconds"),
    ({"kind": "repaint", "start_seconds": 2, "end_seconds": 60}, "params.operation.start_seconds"),
    ({"kind": "redo_stem", "stem": "vocals"}, "params.operation.stem"),
    ({"kind": "continue", "bars": 0}, "params.operation.bars"),
    ({"kind": "loop", "bars": 65}, "params.operation.bars"),
    ({"kind": "loop", "bars": 8}, "params.operation.bars"),  # 8 bars outlast the 5 s source at any tempo
    ({"kind": "reverse"}, "params.operation.kind"),
]


async def test_bad_operations_are_invalid_argument_naming_the_field(studio):
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Bad")
    source = await land(studio, alice, pb.GenerateRequest(params=params(repo_id=repo.repo_id, duration_seconds=5)))
    for operation, field in BAD_OPERATIONS:
        request = pb.GenerateRequest(
            params=pb.GenerationParams(
                repo_id=repo.repo_id, commit_id=source.commit_id, operation=pb.Operation(**operation)
            )
        )
        error = await rpc_error(studio.generator(alice).Generate(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in violated_fields(error), operation
    other_engine = pb.GenerationParams(
        repo_id=repo.repo_id, commit_id=source.commit_id, engine="musicgen", operation=pb.Operation(kind="loop", bars=1)
    )
    error = await rpc_error(studio.generator(alice).Generate(pb.GenerateRequest(params=other_engine)))
    assert violated_fields(error) == {"params.engine"}
    assert len((await studio.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest())).jobs) == 1


async def test_operations_without_a_generated_source_are_refused_before_anything_is_queued(studio):
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Sources")
    handmade = await alice.commit(repo.repo_id, {"vocals": (await alice.upload(sung(TUNE, 0.5))).blob_id})
    generator = studio.generator(alice)

    missing = pb.GenerationParams(repo_id=repo.repo_id, operation=pb.Operation(kind="continue", bars=4))
    error = await rpc_error(generator.Generate(pb.GenerateRequest(params=missing)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and violated_fields(error) == {"params.commit_id"}

    on_handmade = pb.GenerationParams(
        repo_id=repo.repo_id, commit_id=handmade.commit_id, operation=pb.Operation(kind="continue", bars=4)
    )
    error = await rpc_error(generator.Generate(pb.GenerateRequest(params=on_handmade)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "no generator provenance" in error.details()

    branch_alone = params(branch="ideas")
    error = await rpc_error(generator.Generate(pb.GenerateRequest(params=branch_alone)))
    assert violated_fields(error) == {"params.branch"}
    assert not (await studio.jobs(alice).ListJobs(jobs_pb2.ListJobsRequest())).jobs


async def test_musicgen_continues_from_the_source_audio_and_refuses_what_it_cannot(studio_factory, musicgen_weights):
    studio = await studio_factory(musicgen_model_dir=musicgen_weights)
    alice = await studio.vcs.sign_up()
    repo = await alice.create_repo("Model")
    source = await land(
        studio,
        alice,
        pb.GenerateRequest(params=params(engine="musicgen", bpm=120, duration_seconds=5, repo_id=repo.repo_id)),
    )
    provenance = json_format.MessageToDict((await commit_of(alice, repo.repo_id, source.commit_id)).generation_params)
    assert provenance["model_revision"].startswith("sha256:") and provenance["midi"] == {}

    more = pb.Operation(kind="continue", bars=1)
    request = pb.GenerationParams(repo_id=repo.repo_id, commit_id=source.commit_id, operation=more)
    longer = await land(studio, alice, pb.GenerateRequest(params=request))
    assert [s.name for s in (await commit_of(alice, repo.repo_id, longer.commit_id)).stems] == ["mix"]
    assert longer.duration_seconds > source.duration_seconds

    for refused in (
        pb.GenerationParams(
            repo_id=repo.repo_id,
            commit_id=source.commit_id,
            operation=pb.Operation(kind="repaint", start_seconds=1, end_seconds=2),
        ),
        params(engine="musicgen", duration_seconds=5, operation=pb.Operation(kind="loop", bars=2)),
    ):
        error = await rpc_error(studio.generator(alice).Generate(pb.GenerateRequest(params=refused)))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "'musicgen' cannot" in error.details()
    engines = (await studio.generator(alice).ListEngines(pb.ListEnginesRequest())).engines
    offered = {engine.name: list(engine.operations) for engine in engines}
    assert offered["musicgen"] == ["continue"] and offered["procedural"] == ["continue", "loop", "redo_stem", "repaint"]
