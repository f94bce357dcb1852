"""Commits, branches, tags, history, diff, merge, revert and forks through the real service."""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_status import rpc_status

from beatflow.vcs.v1 import repositories_pb2 as rpb
from beatflow.vcs.v1 import version_control_pb2 as pb
from tests.audio import tone
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error


@pytest.fixture
async def studio(vcs: VcsUnderTest):
    """A musician with a repository and five distinct stems uploaded."""
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Album")
    blobs = {}
    for index, name in enumerate(["drums", "bass", "keys", "vox", "fx"]):
        blobs[name] = (await owner.upload(tone(0.5, 110.0 * (index + 1)))).blob_id
    return owner, repo, blobs


async def branch_head(caller: Caller, repo_id: str, name: str) -> str:
    branches = (await caller.vc.ListBranches(pb.ListBranchesRequest(repo_id=repo_id))).branches
    return next(b.commit_id for b in branches if b.name == name)


async def test_commit_is_content_addressed_and_advances_the_branch(studio):
    owner, repo, blobs = studio
    params = struct_pb2.Struct()
    params.update({"prompt": "lofi drums", "seed": 7})
    first = await owner.commit(
        repo.repo_id,
        {"drums": blobs["drums"], "bass": blobs["bass"]},
        message="first idea",
        bpm=92,
        key_signature="a Min",
        generation_params=params,
    )
    assert len(first.commit_id) == 64 and list(first.parent_ids) == []
    assert (first.bpm, first.key_signature) == (92, "A minor")
    assert first.generation_params["prompt"] == "lofi drums"
    assert [s.name for s in first.stems] == ["bass", "drums"]
    assert first.stems[0].audio.sample_rate == 44100
    assert first.author_username == owner.user.username
    assert await branch_head(owner, repo.repo_id, "main") == first.commit_id

    second = await owner.commit(repo.repo_id, {}, parent=first.commit_id, message="drop bass", remove_stems=["bass"])
    assert list(second.parent_ids) == [first.commit_id] and [s.name for s in second.stems] == ["drums"]
    fetched = (await owner.vc.GetCommit(pb.GetCommitRequest(commit_id=first.commit_id))).commit
    assert (first.repo_id, first.branch) == (repo.repo_id, "main"), "CreateCommit says where it landed"
    first.ClearField("repo_id")
    first.ClearField("branch")
    assert fetched == first


async def test_racing_commits_on_one_branch_exactly_one_wins(studio):
    owner, repo, blobs = studio
    base = await owner.commit(repo.repo_id, {"drums": blobs["drums"]})
    attempts = [
        owner.commit(repo.repo_id, {"drums": blobs["drums"], name: blobs[name]}, parent=base.commit_id, message=name)
        for name in ("bass", "keys", "vox", "fx")
    ]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(winners) == 1 and len(losers) == 3
    head = await branch_head(owner, repo.repo_id, "main")
    assert head == winners[0].commit_id
    for error in losers:
        assert error.code() == grpc.StatusCode.ABORTED
        info = [d for d in rpc_status.from_call(error).details if d.type_url.endswith("ErrorInfo")]
        assert info, "the loser learns the current head"
        assert head in str(info[0].value)
    history = (await owner.vc.GetHistory(pb.GetHistoryRequest(repo_id=repo.repo_id))).nodes
    assert [n.commit.commit_id for n in history] == [head, base.commit_id]


async def test_a_stale_parent_is_aborted_and_no_parent_means_the_head(studio):
    owner, repo, blobs = studio
    first = await owner.commit(repo.repo_id, {"drums": blobs["drums"]})
    second = await owner.commit(repo.repo_id, {"bass": blobs["bass"]}, parent=first.commit_id)
    error = await rpc_error(owner.commit(repo.repo_id, {"keys": blobs["keys"]}, parent=first.commit_id))
    assert error.code() == grpc.StatusCode.ABORTED
    on_head = await owner.commit(repo.repo_id, {"keys": blobs["keys"]})
    assert list(on_head.parent_ids) == [second.commit_id]


@pytest.mark.parametrize(
    ("stems", "fields", "code"),
    [
        ({"Drums!": "x"}, {}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"drums": "nothex"}, {}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"drums": hashlib.sha256(b"never uploaded").hexdigest()}, {}, grpc.StatusCode.FAILED_PRECONDITION),
        ({}, {"message": "m" * 5000}, grpc.StatusCode.INVALID_ARGUMENT),
        ({}, {"message": "   "}, grpc.StatusCode.INVALID_ARGUMENT),
        ({}, {"bpm": 5000}, grpc.StatusCode.INVALID_ARGUMENT),
        ({}, {"key_signature": "H dorian"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({}, {"branch": "bad..name"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({}, {"parent_commit_id": "abc"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({}, {"parent_commit_id": "a" * 64}, grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_bad_commits_change_nothing(studio, stems, fields, code):
    owner, repo, _ = studio
    request = pb.CreateCommitRequest(
        repo_id=repo.repo_id,
        message=fields.pop("message", "msg"),
        stems=[pb.StemInput(name=n, blob_id=b) for n, b in stems.items()],
        **fields,
    )
    error = await rpc_error(owner.vc.CreateCommit(request))
    assert error.code() == code
    assert (await owner.vc.ListBranches(pb.ListBranchesRequest(repo_id=repo.repo_id))).branches == []


async def test_others_cannot_commit_or_use_foreign_blobs(vcs: VcsUnderTest, studio):
    owner, repo, blobs = studio
    stranger = await vcs.sign_up()
    error = await rpc_error(stranger.commit(repo.repo_id, {"drums": blobs["drums"]}))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    own = await stranger.create_repo("mine")
    error = await rpc_error(stranger.commit(own.repo_id, {"drums": blobs["drums"]}))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    await owner.repos.PutCollaborator(
        rpb.PutCollaboratorRequest(
            repo_id=repo.repo_id, username=stranger.user.username, role=rpb.COLLABORATOR_ROLE_READ
        )
    )
    error = await rpc_error(stranger.commit(repo.repo_id, {"drums": blobs["drums"]}))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_branches_tags_log_and_history(studio):
    owner, repo, blobs = studio
    c1 = await owner.commit(repo.repo_id, {"drums": blobs["drums"]}, message="c1")
    c2 = await owner.commit(repo.repo_id, {"drums": blobs["drums"], "bass": blobs["bass"]}, parent=c1.commit_id)
    await owner.vc.CreateBranch(pb.CreateBranchRequest(repo_id=repo.repo_id, name="idea/keys", start_point="main"))
    error = await rpc_error(owner.vc.CreateBranch(pb.CreateBranchRequest(repo_id=repo.repo_id, name="idea/keys")))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    k1 = (
        await owner.vc.CreateCommit(
            pb.CreateCommitRequest(
                repo_id=repo.repo_id,
                branch="idea/keys",
                parent_commit_id=c2.commit_id,
                message="keys",
                stems=[pb.StemInput(name="keys", blob_id=blobs["keys"])],
            )
        )
    ).commit
    await owner.vc.CreateTag(pb.CreateTagRequest(repo_id=repo.repo_id, name="v1", target=c1.commit_id, message="demo"))
    tags = (await owner.vc.ListTags(pb.ListTagsRequest(repo_id=repo.repo_id))).tags
    assert [(t.name, t.commit_id) for t in tags] == [("v1", c1.commit_id)]

    log = (await owner.vc.GetLog(pb.GetLogRequest(repo_id=repo.repo_id, ref="idea/keys"))).commits
    assert [c.commit_id for c in log] == [k1.commit_id, c2.commit_id, c1.commit_id]
    main_log = (await owner.vc.GetLog(pb.GetLogRequest(repo_id=repo.repo_id))).commits
    assert [c.commit_id for c in main_log] == [c2.commit_id, c1.commit_id]

    history = await owner.vc.GetHistory(pb.GetHistoryRequest(repo_id=repo.repo_id))
    nodes = {n.commit.commit_id: n for n in history.nodes}
    assert list(nodes) == [k1.commit_id, c2.commit_id, c1.commit_id]
    assert list(nodes[k1.commit_id].branch_heads) == ["idea/keys"]
    assert list(nodes[c2.commit_id].branch_heads) == ["main"]
    assert list(nodes[c1.commit_id].tags) == ["v1"]

    error = await rpc_error(owner.vc.DeleteBranch(pb.DeleteBranchRequest(repo_id=repo.repo_id, name="main")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    await owner.vc.DeleteBranch(pb.DeleteBranchRequest(repo_id=repo.repo_id, name="idea/keys"))
    await owner.vc.DeleteTag(pb.DeleteTagRequest(repo_id=repo.repo_id, name="v1"))
    error = await rpc_error(owner.vc.DeleteTag(pb.DeleteTagRequest(repo_id=repo.repo_id, name="v1")))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_update_branch_is_compare_and_swap(studio):
    owner, repo, blobs = studio
    c1 = await owner.commit(repo.repo_id, {"drums": blobs["drums"]})
    c2 = await owner.commit(repo.repo_id, {"bass": blobs["bass"]}, parent=c1.commit_id)
    moved = await owner.vc.UpdateBranch(
        pb.UpdateBranchRequest(
            repo_id=repo.repo_id, name="main", new_commit_id=c1.commit_id, expected_commit_id=c2.commit_id
        )
    )
    assert moved.branch.commit_id == c1.commit_id
    error = await rpc_error(
        owner.vc.UpdateBranch(
            pb.UpdateBranchRequest(
                repo_id=repo.repo_id, name="main", new_commit_id=c2.commit_id, expected_commit_id=c2.commit_id
            )
        )
    )
    assert error.code() == grpc.StatusCode.ABORTED


async def test_history_pages_cover_a_dag_once_in_topological_order(studio):
    owner, repo, blobs = studio
    head = (await owner.commit(repo.repo_id, {"drums": blobs["drums"]}, message="root")).commit_id
    for index in range(6):
        head = (await owner.commit(repo.repo_id, {"drums": blobs["drums"]}, parent=head, message=f"m{index}")).commit_id
    await owner.vc.CreateBranch(pb.CreateBranchRequest(repo_id=repo.repo_id, name="side", start_point=head))
    side = head
    for index in range(3):
        side = (
            await owner.vc.CreateCommit(
                pb.CreateCommitRequest(
                    repo_id=repo.repo_id,
                    branch="side",
                    parent_commit_id=side,
                    message=f"s{index}",
                    stems=[pb.StemInput(name="bass", blob_id=blobs["bass"])],
                )
            )
        ).commit.commit_id
    for index in range(2):
        head = (await owner.commit(repo.repo_id, {"keys": blobs["keys"]}, parent=head, message=f"k{index}")).commit_id
    merged = await owner.vc.Merge(pb.MergeRequest(repo_id=repo.repo_id, target_branch="main", source="side"))
    assert merged.outcome == pb.MERGE_OUTCOME_MERGE_COMMIT

    seen, token = [], ""
    while True:
        page = await owner.vc.GetHistory(pb.GetHistoryRequest(repo_id=repo.repo_id, page_size=4, page_token=token))
        seen += [n.commit for n in page.nodes]
        token = page.next_page_token
        if not token:
            break
    ids = [c.commit_id for c in seen]
    assert len(ids) == len(set(ids)) == 1 + 6 + 3 + 2 + 1
    position = {commit_id: index for index, commit_id in enumerate(ids)}
    for commit in seen:
        for parent in commit.parent_ids:
            assert position[commit.commit_id] < position[parent], "children come before their parents"


async def test_diff_reports_stem_and_metadata_changes(studio):
    owner, repo, blobs = studio
    c1 = await owner.commit(repo.repo_id, {"drums": blobs["drums"], "bass": blobs["bass"]}, bpm=90)
    c2 = await owner.commit(
        repo.repo_id,
        {"drums": blobs["fx"], "keys": blobs["keys"]},
        parent=c1.commit_id,
        bpm=96,
        key_signature="D minor",
        replace_tree=True,
    )
    diff = await owner.vc.DiffCommits(pb.DiffCommitsRequest(repo_id=repo.repo_id, base=c1.commit_id, head="main"))
    assert [(c.name, c.change) for c in diff.stem_changes] == [
        ("bass", pb.CHANGE_TYPE_REMOVED),
        ("drums", pb.CHANGE_TYPE_MODIFIED),
        ("keys", pb.CHANGE_TYPE_ADDED),
    ]
    assert {(m.field, m.old_value, m.new_value) for m in diff.metadata_changes} == {
        ("bpm", "90", "96"),
        ("key_signature", "", "D minor"),
    }
    assert diff.head_commit_id == c2.commit_id


async def test_merge_fast_forward_clean_and_conflicting(studio):
    owner, repo, blobs = studio
    base = await owner.commit(repo.repo_id, {"drums": blobs["drums"], "bass": blobs["bass"]}, bpm=100)
    await owner.vc.CreateBranch(pb.CreateBranchRequest(repo_id=repo.repo_id, name="feature"))

    async def on_feature(stems, parent, **fields):
        request = pb.CreateCommitRequest(
            repo_id=repo.repo_id,
            branch="feature",
            parent_commit_id=parent,
            message="feature work",
            stems=[pb.StemInput(name=n, blob_id=b) for n, b in stems.items()],
            **fields,
        )
        return (await owner.vc.CreateCommit(request)).commit

    f1 = await on_feature({"drums": blobs["drums"], "bass": blobs["bass"], "keys": blobs["keys"]}, base.commit_id)
    ff = await owner.vc.Merge(pb.MergeRequest(repo_id=repo.repo_id, target_branch="main", source="feature"))
    assert ff.outcome == pb.MERGE_OUTCOME_FAST_FORWARD and ff.commit.commit_id == f1.commit_id
    again = await owner.vc.Merge(pb.MergeRequest(repo_id=repo.repo_id, target_branch="main", source="feature"))
    assert again.outcome == pb.MERGE_OUTCOME_UP_TO_DATE

    # Diverge: feature changes bass, main adds vox -> clean merge with both.
    f2 = await on_feature({"drums": blobs["drums"], "bass": blobs["fx"], "keys": blobs["keys"]}, f1.commit_id)
    m1 = await owner.commit(
        repo.repo_id,
        {"drums": blobs["drums"], "bass": blobs["bass"], "keys": blobs["keys"], "vox": blobs["vox"]},
        parent=f1.commit_id,
        bpm=100,
    )
    clean = await owner.vc.Merge(pb.MergeRequest(repo_id=repo.repo_id, target_branch="main", source="feature"))
    assert clean.outcome == pb.MERGE_OUTCOME_MERGE_COMMIT
    assert list(clean.commit.parent_ids) == [m1.commit_id, f2.commit_id]
    assert {s.name: s.blob_id for s in clean.commit.stems} == {
        "drums": blobs["drums"],
        "bass": blobs["fx"],
        "keys": blobs["keys"],
        "vox": blobs["vox"],
    }

    # Both change drums and bpm differently -> conflicts reported, nothing written.
    await on_feature({"drums": blobs["keys"], "bass": blobs["fx"], "keys": blobs["keys"]}, f2.commit_id, bpm=120)
    head_before = await branch_head(owner, repo.repo_id, "main")
    await owner.commit(
        repo.repo_id,
        {"drums": blobs["vox"], "bass": blobs["fx"], "keys": blobs["keys"], "vox": blobs["vox"]},
        parent=head_before,
        bpm=110,
    )
    head_before = await branch_head(owner, repo.repo_id, "main")
    conflict = await owner.vc.Merge(pb.MergeRequest(repo_id=repo.repo_id, target_branch="main", source="feature"))
    assert conflict.outcome == pb.MERGE_OUTCOME_CONFLICT
    assert [(c.name, c.ours_blob_id, c.theirs_blob_id) for c in conflict.conflicts] == [
        ("drums", blobs["vox"], blobs["keys"])
    ]
    assert [(c.field, c.ours_value, c.theirs_value) for c in conflict.metadata_conflicts] == [("bpm", "110", "120")]
    assert await branch_head(owner, repo.repo_id, "main") == head_before

    resolved = await owner.vc.Merge(
        pb.MergeRequest(
            repo_id=repo.repo_id,
            target_branch="main",
            source="feature",
            resolutions=[
                pb.StemResolution(name="drums", resolution=pb.CONFLICT_RESOLUTION_THEIRS),
                pb.StemResolution(name="bpm", resolution=pb.CONFLICT_RESOLUTION_OURS),
            ],
        )
    )
    assert resolved.outcome == pb.MERGE_OUTCOME_MERGE_COMMIT
    assert {s.name: s.blob_id for s in resolved.commit.stems}["drums"] == blobs["keys"]
    assert resolved.commit.bpm == 110


async def test_revert_undoes_one_commit(studio):
    owner, repo, blobs = studio
    c1 = await owner.commit(repo.repo_id, {"drums": blobs["drums"]}, bpm=90)
    c2 = await owner.commit(repo.repo_id, {"drums": blobs["drums"], "bass": blobs["bass"]}, parent=c1.commit_id, bpm=95)
    c3 = await owner.commit(
        repo.repo_id,
        {"drums": blobs["drums"], "bass": blobs["bass"], "keys": blobs["keys"]},
        parent=c2.commit_id,
        bpm=95,
    )
    reverted = (
        await owner.vc.RevertCommit(pb.RevertCommitRequest(repo_id=repo.repo_id, commit_id=c2.commit_id))
    ).commit
    assert list(reverted.parent_ids) == [c3.commit_id]
    assert {s.name for s in reverted.stems} == {"drums", "keys"}
    assert reverted.bpm == 90
    assert reverted.message.startswith('Revert "change"')


async def test_fork_shares_history_and_merges_back_upstream(vcs: VcsUnderTest, studio):
    owner, repo, blobs = studio
    await owner.repos.UpdateRepository(
        rpb.UpdateRepositoryRequest(
            repo_id=repo.repo_id, repository=rpb.Repository(is_public=True), update_mask={"paths": ["is_public"]}
        )
    )
    c1 = await owner.commit(repo.repo_id, {"drums": blobs["drums"]})
    fan = await vcs.sign_up()
    fork = (await fan.repos.ForkRepository(rpb.ForkRepositoryRequest(original_repo_id=repo.repo_id))).repository
    assert fork.forked_from.commit_id == c1.commit_id
    assert await branch_head(fan, fork.repo_id, "main") == c1.commit_id
    own_drums = (await fan.upload(tone(0.3, 999.0))).blob_id
    f1 = await fan.commit(fork.repo_id, {"drums": own_drums}, parent=c1.commit_id, message="remix")
    # Upstream moves on; its new commit is not part of the fork.
    c2 = await owner.commit(repo.repo_id, {"drums": blobs["drums"], "bass": blobs["bass"]}, parent=c1.commit_id)
    error = await rpc_error(fan.vc.GetCommit(pb.GetCommitRequest(commit_id=c2.commit_id, repo_id=fork.repo_id)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    # The fork pulls upstream in with a merge across repositories.
    merged = await fan.vc.Merge(
        pb.MergeRequest(repo_id=fork.repo_id, target_branch="main", source="main", source_repo_id=repo.repo_id)
    )
    assert merged.outcome == pb.MERGE_OUTCOME_MERGE_COMMIT
    assert {s.name: s.blob_id for s in merged.commit.stems} == {"drums": own_drums, "bass": blobs["bass"]}
    assert (await fan.vc.GetCommit(pb.GetCommitRequest(commit_id=c2.commit_id, repo_id=fork.repo_id))).commit
    # The owner can see the fan's public remix commit, and the original is untouched.
    assert (await owner.vc.GetCommit(pb.GetCommitRequest(commit_id=f1.commit_id))).commit.message == "remix"
    assert await branch_head(owner, repo.repo_id, "main") == c2.commit_id


async def test_private_commits_stay_private(vcs: VcsUnderTest, studio):
    owner, repo, blobs = studio
    c1 = await owner.commit(repo.repo_id, {"drums": blobs["drums"]})
    stranger = await vcs.sign_up()
    for call in (
        stranger.vc.GetCommit(pb.GetCommitRequest(commit_id=c1.commit_id)),
        stranger.vc.GetHistory(pb.GetHistoryRequest(repo_id=repo.repo_id)),
        stranger.vc.DiffCommits(pb.DiffCommitsRequest(repo_id=repo.repo_id, base="main", head="main")),
    ):
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND
    from beatflow.vcs.v1 import blobs_pb2

    error = await rpc_error(stranger.blobs.GetBlob(blobs_pb2.GetBlobRequest(blob_id=blobs["drums"])))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    # A collaborator reaches the commit's blobs through the repository.
    await owner.repos.PutCollaborator(
        rpb.PutCollaboratorRequest(
            repo_id=repo.repo_id, username=stranger.user.username, role=rpb.COLLABORATOR_ROLE_READ
        )
    )
    assert (await stranger.blobs.GetBlob(blobs_pb2.GetBlobRequest(blob_id=blobs["drums"]))).blob.blob_id


async def test_commit_request_id_is_idempotent(studio):
    owner, repo, blobs = studio
    first = await owner.commit(repo.repo_id, {"drums": blobs["drums"]}, request_id="save-1")
    again = await owner.commit(repo.repo_id, {"drums": blobs["drums"]}, request_id="save-1")
    assert again.commit_id == first.commit_id
    assert len((await owner.vc.GetHistory(pb.GetHistoryRequest(repo_id=repo.repo_id))).nodes) == 1
