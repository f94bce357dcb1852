"""Comments on moments through the real service (PostgreSQL + S3): anchors, threads, carrying comments
forward to later commits while their region is unchanged, outdated marks, and who may read and write."""

from __future__ import annotations

import grpc
import pytest
from beatflow_sdk.client import AsyncBeatFlow, Endpoints

from beatflow.vcs.v1 import repositories_pb2, version_control_pb2_grpc
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_vcs.audio_diff import ChangedRange
from beatflow_vcs.comments import carried
from tests.fixtures.vcs import VcsUnderTest, rpc_error
from tests.vcs.synthetic_notes import BAR, BPM, edited, flac, melody, pitches


def test_an_anchor_moves_past_insertions_and_is_lost_where_audio_changed():
    inserted = ChangedRange(4.0, 4.0, 4.0, 6.0, -100.0, -20.0)
    modified = ChangedRange(10.0, 12.0, 12.0, 14.0, -20.0, -14.0)
    assert carried([inserted, modified], 1.0, 2.0) == (1.0, 2.0)
    assert carried([inserted, modified], 6.0, 8.0) == (8.0, 10.0)
    assert carried([inserted, modified], 8.0, 10.0) == (10.0, 12.0)  # touching the change's start: still there
    assert carried([inserted, modified], 9.0, 10.5) is None
    assert carried([inserted, modified], 3.0, 5.0) is None  # an insertion inside the anchor
    assert carried([inserted, modified], 11.0, 11.0) is None  # a point inside a change


def comment_request(repo_id: str, commit_id: str, body: str, **anchor) -> pb.CreateCommentRequest:
    return pb.CreateCommentRequest(repo_id=repo_id, commit_id=commit_id, body=body, **anchor)


async def listed(caller, repo_id: str, commit_id: str, **paging) -> list[pb.Comment]:
    response = await caller.vc.ListComments(pb.ListCommentsRequest(repo_id=repo_id, commit_id=commit_id, **paging))
    return list(response.comments)


@pytest.fixture
async def song(vcs: VcsUnderTest):
    """A public song: v1 keys + drums; v2 changes bar 4 of keys; v3 inserts a bar of keys after bar 1."""
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Moments", is_public=True)
    notes = pitches(7)
    drums = (await owner.upload(flac(melody([110.0] * len(notes))))).blob_id
    keys = [(await owner.upload(flac(melody(n)))).blob_id for n in (notes, edited(notes, 4))]
    longer = edited(notes, 4)[:8] + pitches(8, bars=1) + edited(notes, 4)[8:]
    keys.append((await owner.upload(flac(melody(longer)))).blob_id)
    v1 = await owner.commit(repo.repo_id, {"keys": keys[0], "drums": drums}, message="v1", bpm=BPM)
    v2 = await owner.commit(repo.repo_id, {"keys": keys[1]}, message="v2: new bar 4")
    v3 = await owner.commit(repo.repo_id, {"keys": keys[2]}, message="v3: a bar inserted after bar 1")
    return owner, repo.repo_id, v1.commit_id, v2.commit_id, v3.commit_id


async def test_comments_follow_their_region_to_later_commits_or_become_outdated(vcs, song):
    owner, repo_id, v1, v2, v3 = song
    listener = await vcs.sign_up()
    intro = await listener.vc.CreateComment(
        comment_request(repo_id, v1, "lovely opening", stem="keys", start_seconds=0.5, end_seconds=BAR)
    )
    bar4 = await listener.vc.CreateComment(
        comment_request(repo_id, v1, "bar 4 drags", stem="keys", start_seconds=4 * BAR, end_seconds=5 * BAR)
    )
    mix = await owner.vc.CreateComment(
        comment_request(repo_id, v1, "the end rings nicely", start_seconds=5 * BAR, end_seconds=6 * BAR)
    )
    reply = await owner.vc.CreateComment(comment_request(repo_id, v2, "fixed in v2", parent_id=bar4.comment.comment_id))
    await owner.vc.CreateComment(
        comment_request(repo_id, v2, "new bar 4", stem="keys", start_seconds=4 * BAR, end_seconds=4.5 * BAR)
    )
    assert (reply.comment.commit_id, reply.comment.stem, reply.comment.start_seconds) == (v1, "keys", 4 * BAR)
    assert reply.comment.parent_id == bar4.comment.comment_id and bar4.comment.author_username == listener.user.username

    # A reply joins its thread, wherever it was written.
    first = await listed(listener, repo_id, v1)
    assert [c.body for c in first] == ["lovely opening", "bar 4 drags", "the end rings nicely", "fixed in v2"]
    assert not any(c.outdated for c in first)

    second = {c.body: c for c in await listed(listener, repo_id, v2)}
    assert set(second) == {"lovely opening", "bar 4 drags", "the end rings nicely", "fixed in v2", "new bar 4"}
    assert not second["lovely opening"].outdated and not second["the end rings nicely"].outdated
    assert second["bar 4 drags"].outdated and second["fixed in v2"].outdated
    assert not second["new bar 4"].outdated

    # v3 inserts a bar after bar 1: the intro stays put, what comes after moves a bar later.
    third = {c.body: c for c in await listed(listener, repo_id, v3)}
    assert (third["lovely opening"].outdated, third["lovely opening"].shown_end_seconds) == (False, BAR)
    moved = third["new bar 4"]
    assert not moved.outdated
    assert (moved.shown_start_seconds, moved.shown_end_seconds) == pytest.approx((5 * BAR, 5.5 * BAR), abs=0.05)
    assert (moved.start_seconds, moved.commit_id) == (4 * BAR, v2)
    assert third["the end rings nicely"].shown_start_seconds == pytest.approx(6 * BAR, abs=0.05)
    assert mix.comment.stem == "" and intro.comment.comment_id in {c.comment_id for c in third.values()}


async def test_authors_edit_and_authors_or_owners_delete(vcs, song):
    owner, repo_id, v1, _, _ = song
    author, other = await vcs.sign_up(), await vcs.sign_up()
    created = (await author.vc.CreateComment(comment_request(repo_id, v1, "too loud", stem="drums"))).comment
    edited_comment = (
        await author.vc.UpdateComment(
            pb.UpdateCommentRequest(repo_id=repo_id, comment_id=created.comment_id, body="too loud here")
        )
    ).comment
    assert edited_comment.body == "too loud here" and edited_comment.edited and not created.edited
    for attempt in (
        other.vc.UpdateComment(pb.UpdateCommentRequest(repo_id=repo_id, comment_id=created.comment_id, body="x")),
        other.vc.DeleteComment(pb.DeleteCommentRequest(repo_id=repo_id, comment_id=created.comment_id)),
    ):
        assert (await rpc_error(attempt)).code() == grpc.StatusCode.PERMISSION_DENIED

    reply = (await other.vc.CreateComment(comment_request(repo_id, v1, "agreed", parent_id=created.comment_id))).comment
    await owner.vc.DeleteComment(pb.DeleteCommentRequest(repo_id=repo_id, comment_id=created.comment_id))
    # The thread keeps its first comment as deleted, without its text; a deleted comment without replies goes.
    shown = {c.comment_id: c for c in await listed(other, repo_id, v1)}
    assert shown[created.comment_id].deleted and shown[created.comment_id].body == ""
    assert shown[reply.comment_id].parent_id == created.comment_id
    await other.vc.DeleteComment(pb.DeleteCommentRequest(repo_id=repo_id, comment_id=reply.comment_id))
    remaining = {c.comment_id for c in await listed(other, repo_id, v1)}
    assert reply.comment_id not in remaining and created.comment_id in remaining


async def test_anchors_are_checked(song):
    owner, repo_id, v1, _, _ = song
    for anchor in (
        {"stem": "vocals"},
        {"stem": "keys", "start_seconds": 2.0, "end_seconds": 1.0},
        {"stem": "keys", "start_seconds": 0.0, "end_seconds": 60.0},
    ):
        error = await rpc_error(owner.vc.CreateComment(comment_request(repo_id, v1, "hm", **anchor)))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, anchor
    blank = await rpc_error(owner.vc.CreateComment(comment_request(repo_id, v1, "   ")))
    assert blank.code() == grpc.StatusCode.INVALID_ARGUMENT
    elsewhere = await rpc_error(owner.vc.CreateComment(comment_request(repo_id, "ab" * 32, "hm")))
    assert elsewhere.code() == grpc.StatusCode.NOT_FOUND


async def test_pages_and_the_sdk_that_follows_them(vcs: VcsUnderTest, song):
    owner, repo_id, v1, _, _ = song
    async with AsyncBeatFlow(Endpoints(vcs=f"127.0.0.1:{vcs.port}"), token=owner.tokens.access_token) as client:
        for index in range(5):
            await client.comment(comment_request(repo_id, v1, f"note {index}", start_seconds=float(index)))
        first = await owner.vc.ListComments(pb.ListCommentsRequest(repo_id=repo_id, commit_id=v1, page_size=2))
        assert [c.body for c in first.comments] == ["note 0", "note 1"] and first.next_page_token
        assert [c.body for c in await client.comments(repo_id, v1, page_size=2)] == [f"note {i}" for i in range(5)]


async def test_private_repositories_hide_their_comments(vcs: VcsUnderTest):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("Secret")
    blob = (await owner.upload(flac(melody(pitches(1, bars=1))))).blob_id
    commit = (await owner.commit(repo.repo_id, {"keys": blob})).commit_id
    await owner.vc.CreateComment(comment_request(repo.repo_id, commit, "mine", stem="keys"))
    stranger, reader = await vcs.sign_up(), await vcs.sign_up()
    for attempt in (
        stranger.vc.ListComments(pb.ListCommentsRequest(repo_id=repo.repo_id, commit_id=commit)),
        stranger.vc.CreateComment(comment_request(repo.repo_id, commit, "hi")),
    ):
        assert (await rpc_error(attempt)).code() == grpc.StatusCode.NOT_FOUND
    await owner.repos.PutCollaborator(
        repositories_pb2.PutCollaboratorRequest(
            repo_id=repo.repo_id, username=reader.user.username, role=repositories_pb2.COLLABORATOR_ROLE_READ
        )
    )
    await reader.vc.CreateComment(comment_request(repo.repo_id, commit, "a reader may comment"))
    assert [c.body for c in await listed(reader, repo.repo_id, commit)] == ["mine", "a reader may comment"]


async def test_anyone_reads_a_public_repositorys_comments_and_signed_in_users_write(vcs: VcsUnderTest, song):
    owner, repo_id, v1, _, _ = song
    await owner.vc.CreateComment(comment_request(repo_id, v1, "first"))
    anonymous = version_control_pb2_grpc.VersionControlServiceStub(vcs.channel)
    response = await anonymous.ListComments(pb.ListCommentsRequest(repo_id=repo_id, commit_id=v1))
    assert [c.body for c in response.comments] == ["first"]
    error = await rpc_error(anonymous.CreateComment(comment_request(repo_id, v1, "drive-by")))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    stranger = await vcs.sign_up()
    made = await stranger.vc.CreateComment(comment_request(repo_id, v1, "nice"))
    assert made.comment.author_id == stranger.user.user_id
