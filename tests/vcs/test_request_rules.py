"""vcs leaves the shape of a request to its protovalidate rules (the validation interceptor) and keeps
only the checks a rule cannot say. Each limit the services used to check by hand is still the rule's,
at the same bound, and a request past it is refused through the real server with the field's path;
the checks the rules leave to the services still hold."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from beatflow.auth.v1 import auth_pb2
from beatflow.vcs.v1 import blobs_pb2, repositories_pb2
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_platform.grpc.validation import violations_of
from tests.audio import tone
from tests.fixtures.vcs import Caller, VcsUnderTest, rpc_error

SHA = "a" * 64
UUID = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f"
NUL = "a\x00b"


def violated_fields(error: grpc.aio.AioRpcError) -> set[str]:
    """The fields an INVALID_ARGUMENT names in its google.rpc.BadRequest."""
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    fields = set()
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields |= {violation.field for violation in bad.field_violations}
    return fields


def _stems(count: int) -> list[pb.StemInput]:
    return [pb.StemInput(name=f"take{i}", blob_id=SHA) for i in range(count)]


def _commit(**fields) -> pb.CreateCommitRequest:
    return pb.CreateCommitRequest(repo_id=UUID, **{"message": "msg", **fields})


def _registration(**fields) -> auth_pb2.RegisterRequest:
    return auth_pb2.RegisterRequest(
        **{"username": "carol", "email": "carol@example.com", "password": "long enough password", **fields}
    )


# (a request at the bound the services held by hand, the same request one past it, the field)
BOUNDS = [
    (_registration(display_name="d" * 100), _registration(display_name="d" * 101), "display_name"),
    (_registration(email="e@" + "x" * 248 + ".com"), _registration(email="e@" + "x" * 249 + ".com"), "email"),
    (_registration(password="p" * 10), _registration(password="p" * 9), "password"),
    (_registration(password="p" * 1024), _registration(password="p" * 1025), "password"),
    (_commit(message="m" * 4096), _commit(message="m" * 4097), "message"),
    (_commit(request_id="r" * 128), _commit(request_id="r" * 129), "request_id"),
    (_commit(stems=_stems(64)), _commit(stems=_stems(65)), "stems"),
    (
        pb.CreateCommentRequest(repo_id=UUID, commit_id=SHA, body="b" * 4096),
        pb.CreateCommentRequest(repo_id=UUID, commit_id=SHA, body="b" * 4097),
        "body",
    ),
    (
        repositories_pb2.CreateRepositoryRequest(description="d" * 2000, genre="g" * 64),
        repositories_pb2.CreateRepositoryRequest(description="d" * 2001, genre="g" * 64),
        "description",
    ),
    (
        repositories_pb2.CreateRepositoryRequest(genre="g" * 64),
        repositories_pb2.CreateRepositoryRequest(genre="g" * 65),
        "genre",
    ),
    (
        pb.GetDiffPictureRequest(repo_id=UUID, base="main", width=4000, height=2000),
        pb.GetDiffPictureRequest(repo_id=UUID, base="main", width=4000, height=2001),
        "height",
    ),
    (
        pb.GetDiffPictureRequest(repo_id=UUID, base="main", width=200, height=200),
        pb.GetDiffPictureRequest(repo_id=UUID, base="main", width=200, height=199),
        "height",
    ),
    (
        blobs_pb2.UploadBlobMetadata(filename="f" * 255),
        blobs_pb2.UploadBlobMetadata(filename="f" * 256),
        "filename",
    ),
    (
        blobs_pb2.GetBlobDownloadUrlRequest(blob_id=SHA, expires_in_seconds=604800),
        blobs_pb2.GetBlobDownloadUrlRequest(blob_id=SHA, expires_in_seconds=604801),
        "expires_in_seconds",
    ),
]


@pytest.mark.parametrize(("within", "past", "field"), BOUNDS, ids=[f"{b[2]}-{i}" for i, b in enumerate(BOUNDS)])
def test_the_rules_hold_the_bounds_the_services_held(within, past, field):
    assert violations_of(within) == []
    assert [violation.field for violation in violations_of(past)] == [field]


@pytest.fixture
async def caller(vcs: VcsUnderTest) -> Caller:
    return await vcs.sign_up()


async def test_registrations_past_the_rules_are_refused(vcs: VcsUnderTest):
    for fields, field in [
        ({"display_name": "d" * 101}, "display_name"),
        ({"display_name": NUL}, "display_name"),
        ({"email": "e@" + "x" * 249 + ".com"}, "email"),
        ({"password": "p" * 1025}, "password"),
    ]:
        error = await rpc_error(vcs.anonymous_auth.Register(_registration(**fields)))
        assert violated_fields(error) == {field}, fields


async def test_commits_refs_merges_and_reverts_past_the_rules_are_refused(caller: Caller):
    vc = caller.vc
    for call, fields in [
        (vc.CreateCommit(_commit(message=NUL)), {"message"}),
        (vc.CreateCommit(_commit(request_id=NUL)), {"request_id"}),
        (vc.CreateCommit(_commit(parent_commit_id="abc")), {"parent_commit_id"}),
        (vc.CreateCommit(_commit(stems=_stems(65))), {"stems"}),
        (vc.CreateCommit(_commit(stems=[pb.StemInput(name="drums", blob_id=SHA.upper())])), {"stems[0].blob_id"}),
        (
            vc.UpdateBranch(pb.UpdateBranchRequest(repo_id=UUID, name="main", new_commit_id="abc")),
            {"new_commit_id", "expected_commit_id"},
        ),
        (vc.CreateTag(pb.CreateTagRequest(repo_id=UUID, name="v1", target="main", message=NUL)), {"message"}),
        (
            vc.CreateTag(pb.CreateTagRequest(repo_id=UUID, name="v1", target="main", message="m" * 4097)),
            {"message"},
        ),
        (vc.Merge(pb.MergeRequest(repo_id=UUID, source="dev", message="m" * 4097)), {"message"}),
        (
            vc.Merge(pb.MergeRequest(repo_id=UUID, source="dev", expected_target_commit_id="abc")),
            {"expected_target_commit_id"},
        ),
        (vc.RevertCommit(pb.RevertCommitRequest(repo_id=UUID, commit_id="abc")), {"commit_id"}),
        (vc.RevertCommit(pb.RevertCommitRequest(repo_id=UUID, commit_id=SHA, message=NUL)), {"message"}),
        (vc.GetDiffPicture(pb.GetDiffPictureRequest(repo_id=UUID, base="main", height=2001)), {"height"}),
    ]:
        assert violated_fields(await rpc_error(call)) == fields


async def test_comments_past_the_rules_are_refused(caller: Caller):
    vc = caller.vc
    for call, fields in [
        (vc.CreateComment(pb.CreateCommentRequest(repo_id=UUID, commit_id=SHA, body="b" * 4097)), {"body"}),
        (vc.CreateComment(pb.CreateCommentRequest(repo_id=UUID, commit_id=SHA, body=NUL)), {"body"}),
        (vc.CreateComment(pb.CreateCommentRequest(repo_id=UUID, commit_id="abc", body="ok")), {"commit_id"}),
        (vc.ListComments(pb.ListCommentsRequest(repo_id=UUID, commit_id=SHA.upper())), {"commit_id"}),
        (vc.UpdateComment(pb.UpdateCommentRequest(repo_id=UUID, comment_id=UUID, body=" \t")), {"body"}),
    ]:
        assert violated_fields(await rpc_error(call)) == fields


async def test_repositories_past_the_rules_are_refused(caller: Caller):
    repos = caller.repos
    mask = field_mask_pb2.FieldMask(paths=["description", "genre"])
    for call, fields in [
        (repos.CreateRepository(repositories_pb2.CreateRepositoryRequest(name="ok", genre="g" * 65)), {"genre"}),
        (repos.CreateRepository(repositories_pb2.CreateRepositoryRequest(name="ok", description=NUL)), {"description"}),
        (
            repos.UpdateRepository(
                repositories_pb2.UpdateRepositoryRequest(
                    repo_id=UUID,
                    repository=repositories_pb2.Repository(description="d" * 2001, genre=NUL),
                    update_mask=mask,
                )
            ),
            {"repository.description", "repository.genre"},
        ),
        (
            repos.ForkRepository(repositories_pb2.ForkRepositoryRequest(original_repo_id=UUID, request_id="r" * 129)),
            {"request_id"},
        ),
    ]:
        assert violated_fields(await rpc_error(call)) == fields


async def test_blob_requests_past_the_rules_are_refused(caller: Caller):
    too_long = await rpc_error(caller.upload(tone(0.2), filename="f" * 256))
    assert violated_fields(too_long) == {"metadata.filename"}
    # PostgreSQL text holds no NUL.
    nul_name = await rpc_error(caller.upload(tone(0.2), filename="take\x00.wav"))
    assert violated_fields(nul_name) == {"metadata.filename"}
    forever = blobs_pb2.GetBlobDownloadUrlRequest(blob_id=SHA, expires_in_seconds=604801)
    assert violated_fields(await rpc_error(caller.blobs.GetBlobDownloadUrl(forever))) == {"expires_in_seconds"}


async def test_what_the_rules_let_through_the_services_still_refuse(caller: Caller):
    # A body of Unicode whitespace alone passes the rule's pattern (ASCII whitespace) and is still blank.
    repo = await caller.create_repo("rules")
    head = await caller.commit(repo.repo_id, {"keys": (await caller.upload(tone(0.5))).blob_id})
    blank = pb.CreateCommentRequest(repo_id=repo.repo_id, commit_id=head.commit_id, body="\u00a0\u2003")
    assert violations_of(blank) == []
    assert violated_fields(await rpc_error(caller.vc.CreateComment(blank))) == {"body"}


async def test_render_downloads_past_the_rules_are_refused(caller: Caller):
    nothing = caller.vc.DownloadRender(pb.DownloadRenderRequest())
    assert violated_fields(await rpc_error(nothing.read())) == {"render"}
    render = pb.RenderCommitRequest(repo_id=UUID, commit_id=SHA)
    backwards = caller.vc.DownloadRender(pb.DownloadRenderRequest(render=render, offset=-1, length=-1))
    assert violated_fields(await rpc_error(backwards.read())) == {"offset", "length"}
