"""Commits as edits of their parent: what is not named is inherited; compare-and-swap only when asked."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_platform.db.pool import connect
from tests.audio import tone
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error

STEMS = ("drums", "bass", "chords", "melody", "guitar", "vox")


@pytest.fixture
async def band(vcs: VcsUnderTest):
    """A repository whose main holds four stems at 92 bpm in A minor, and two more takes uploaded."""
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Band")
    blobs = {name: (await owner.upload(tone(0.3, 110.0 * (i + 1)))).blob_id for i, name in enumerate(STEMS)}
    params = struct_pb2.Struct()
    params.update({"prompt": "lofi", "seed": 7})
    base = await owner.commit(
        repo.repo_id,
        {name: blobs[name] for name in STEMS[:4]},
        message="four stems",
        bpm=92,
        key_signature="A minor",
        generation_params=params,
    )
    return owner, repo.repo_id, blobs, base


def tree(commit: pb.Commit) -> dict[str, str]:
    return {stem.name: stem.blob_id for stem in commit.stems}


async def head_of(caller: Caller, repo_id: str, branch: str = "main") -> str:
    branches = (await caller.vc.ListBranches(pb.ListBranchesRequest(repo_id=repo_id))).branches
    return next((b.commit_id for b in branches if b.name == branch), "")


def details(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, list[str]]:
    """The ErrorInfo and the BadRequest field names of a failed call."""
    info, fields = error_details_pb2.ErrorInfo(), []
    for detail in rpc_status.from_call(error).details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return info, fields


async def test_an_edit_names_only_what_changes(band):
    owner, repo_id, blobs, base = band
    # "Add guitar", no parent named: the branch head is the parent, nothing else is lost.
    added = await owner.commit(repo_id, {"guitar": blobs["guitar"]}, message="add guitar")
    assert list(added.parent_ids) == [base.commit_id]
    assert tree(added) == {**tree(base), "guitar": blobs["guitar"]}
    assert (added.bpm, added.key_signature) == (92, "A minor")
    assert added.generation_params == base.generation_params

    # Replace one stem, drop another, change the tempo: the key and params stay.
    edited = await owner.commit(
        repo_id, {"bass": blobs["vox"]}, message="new bass, no chords", remove_stems=["chords"], bpm=96
    )
    expected = {**tree(added), "bass": blobs["vox"]}
    del expected["chords"]
    assert tree(edited) == expected
    assert (edited.bpm, edited.key_signature) == (96, "A minor")
    assert await head_of(owner, repo_id) == edited.commit_id
    diff = await owner.vc.DiffCommits(pb.DiffCommitsRequest(repo_id=repo_id, base=added.commit_id, head="main"))
    assert [(c.name, c.change) for c in diff.stem_changes] == [
        ("bass", pb.CHANGE_TYPE_MODIFIED),
        ("chords", pb.CHANGE_TYPE_REMOVED),
    ]
    assert [(m.field, m.old_value, m.new_value) for m in diff.metadata_changes] == [("bpm", "92", "96")]


async def test_replace_tree_keeps_the_full_tree_form(band):
    owner, repo_id, blobs, base = band
    whole = await owner.commit(repo_id, {"vox": blobs["vox"]}, message="only vocals", replace_tree=True)
    assert list(whole.parent_ids) == [base.commit_id]
    assert tree(whole) == {"vox": blobs["vox"]}
    assert (whole.bpm, whole.key_signature, len(whole.generation_params)) == (0, "", 0), "nothing is inherited"


async def test_edits_that_cannot_mean_anything_are_refused_and_change_nothing(band):
    owner, repo_id, blobs, base = band
    cases = [
        ({"remove_stems": ["guitar"]}, "remove_stems[0]", "'guitar'"),
        ({"stems": {"bass": blobs["vox"]}, "remove_stems": ["bass"]}, "remove_stems[0]", "both"),
        ({"remove_stems": ["bass", "bass"]}, "remove_stems[1]", "twice"),
        ({"remove_stems": ["Bass!"]}, "remove_stems[0]", "lowercase"),
        ({"remove_stems": ["bass"], "replace_tree": True}, "remove_stems", "replace_tree"),
    ]
    for fields, field, words in cases:
        stems = fields.pop("stems", {})
        error = await rpc_error(owner.commit(repo_id, stems, message="bad edit", **fields))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, fields
        assert words in error.details(), error.details()
        assert details(error)[1] == [field]
    assert await head_of(owner, repo_id) == base.commit_id


async def test_an_edit_that_changes_nothing_lands_as_a_checkpoint(band):
    owner, repo_id, blobs, base = band
    checkpoint = await owner.commit(repo_id, {"drums": blobs["drums"]}, message="before mixing", bpm=92)
    assert list(checkpoint.parent_ids) == [base.commit_id] and checkpoint.commit_id != base.commit_id
    assert tree(checkpoint) == tree(base) and checkpoint.bpm == base.bpm
    diff = await owner.vc.DiffCommits(pb.DiffCommitsRequest(repo_id=repo_id, base=base.commit_id, head="main"))
    assert (list(diff.stem_changes), list(diff.metadata_changes)) == ([], [])


async def test_first_commits_of_new_branches(vcs: VcsUnderTest, band):
    owner, repo_id, blobs, base = band
    # A branch that does not exist yet, without a parent: its first commit has none.
    error = await rpc_error(owner.commit(repo_id, {}, message="x", branch="sketch", remove_stems=["drums"]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "its stems: none" in error.details()
    root = await owner.commit(repo_id, {"vox": blobs["vox"]}, message="a new idea", branch="sketch")
    assert list(root.parent_ids) == [] and tree(root) == {"vox": blobs["vox"]} and root.bpm == 0
    # With a parent, the new branch starts from it and the edit applies to that commit.
    forked = await owner.commit(
        repo_id, {}, message="no drums", branch="no-drums", parent=base.commit_id, remove_stems=["drums"]
    )
    assert list(forked.parent_ids) == [base.commit_id]
    assert set(tree(forked)) == {"bass", "chords", "melody"} and forked.key_signature == "A minor"
    assert await head_of(owner, repo_id) == base.commit_id, "main did not move"
    # An empty repository's first commit, with nothing at all: an empty tree.
    empty = await owner.create_repo("Empty")
    first = await owner.commit(empty.repo_id, {}, message="hello")
    assert list(first.parent_ids) == [] and list(first.stems) == []


async def test_a_named_parent_is_compare_and_swap(band):
    owner, repo_id, blobs, base = band
    moved = await owner.commit(repo_id, {"guitar": blobs["guitar"]}, message="guitar")
    error = await rpc_error(owner.commit(repo_id, {"vox": blobs["vox"]}, message="vox", parent=base.commit_id))
    assert error.code() == grpc.StatusCode.ABORTED
    assert moved.commit_id in error.details(), "the message says what the head is now"
    info, _ = details(error)
    assert info.reason == "BRANCH_MOVED"
    assert (info.metadata["current_head"], info.metadata["expected_head"]) == (moved.commit_id, base.commit_id)
    assert await head_of(owner, repo_id) == moved.commit_id
    onto_head = await owner.commit(repo_id, {"vox": blobs["vox"]}, message="vox", parent=moved.commit_id)
    assert list(onto_head.parent_ids) == [moved.commit_id]


async def test_concurrent_edits_without_a_parent_all_land_in_a_line(band):
    owner, repo_id, blobs, base = band
    takes = {f"take-{i}": blobs[STEMS[i % len(STEMS)]] for i in range(5)}
    landed = await asyncio.gather(*(owner.commit(repo_id, {n: b}, message=n) for n, b in takes.items()))
    head = (await owner.vc.GetCommit(pb.GetCommitRequest(commit_id=await head_of(owner, repo_id)))).commit
    assert tree(head) == {**tree(base), **takes}, "every edit built on the one before"
    log = (await owner.vc.GetLog(pb.GetLogRequest(repo_id=repo_id))).commits
    assert [c.commit_id for c in log][-1] == base.commit_id and len(log) == 6
    assert all(list(c.parent_ids) == [log[i + 1].commit_id] for i, c in enumerate(log[:-1]))
    assert {c.commit_id for c in landed} == {c.commit_id for c in log[:-1]}


async def test_retries_with_one_request_id_land_once(band):
    owner, repo_id, blobs, base = band
    first, *twins = await asyncio.gather(
        *(
            owner.commit(repo_id, {"guitar": blobs["guitar"]}, message="guitar", request_id="add-guitar")
            for _ in range(3)
        )
    )
    again = await owner.commit(repo_id, {"guitar": blobs["guitar"]}, message="guitar", request_id="add-guitar")
    assert {c.commit_id for c in (*twins, again)} == {first.commit_id}
    log = (await owner.vc.GetLog(pb.GetLogRequest(repo_id=repo_id))).commits
    assert [c.commit_id for c in log] == [first.commit_id, base.commit_id]


async def test_a_retry_after_the_request_id_expired_is_a_new_write(band, database_dsn):
    """The key is past its TTL but not yet pruned: the retry is executed again, not answered from it."""
    owner, repo_id, blobs, base = band
    first = await owner.commit(repo_id, {"guitar": blobs["guitar"]}, message="guitar", request_id="add-guitar")
    async with await connect(database_dsn) as db:
        await db.execute(
            "UPDATE vcs.idempotent_requests SET created_at = now() - interval '25 hours'"
            " WHERE request_id = 'add-guitar'"
        )
    again = await owner.commit(repo_id, {"vox": blobs["vox"]}, message="vox", request_id="add-guitar")
    assert again.commit_id != first.commit_id and list(again.parent_ids) == [first.commit_id]
    retried = await owner.commit(repo_id, {"vox": blobs["vox"]}, message="vox", request_id="add-guitar")
    assert retried.commit_id == again.commit_id, "the new write is remembered in its turn"
    log = (await owner.vc.GetLog(pb.GetLogRequest(repo_id=repo_id))).commits
    assert [c.commit_id for c in log] == [again.commit_id, first.commit_id, base.commit_id]
