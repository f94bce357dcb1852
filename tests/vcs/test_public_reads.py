"""Public means public: reads of public repositories need no token; private ones do not exist for strangers."""

from __future__ import annotations

import grpc
import pytest

from beatflow.vcs.v1 import blobs_pb2, blobs_pb2_grpc, repositories_pb2_grpc, version_control_pb2_grpc
from beatflow.vcs.v1 import repositories_pb2 as rpb
from beatflow.vcs.v1 import version_control_pb2 as pb
from tests.audio import tone
from tests.fixtures.vcs import VcsUnderTest, rpc_error


class Anonymous:
    """Stubs on the service's channel with no authorization metadata at all."""

    def __init__(self, channel: grpc.aio.Channel):
        self.repos = repositories_pb2_grpc.RepositoryServiceStub(channel)
        self.vc = version_control_pb2_grpc.VersionControlServiceStub(channel)
        self.blobs = blobs_pb2_grpc.BlobServiceStub(channel)

    def reads(self, repo_id: str, commit_id: str, blob_id: str) -> dict[str, object]:
        """Every read method, as name -> a call to await."""
        return {
            "GetRepository": self.repos.GetRepository(rpb.GetRepositoryRequest(repo_id=repo_id)),
            "ListCollaborators": self.repos.ListCollaborators(rpb.ListCollaboratorsRequest(repo_id=repo_id)),
            "GetHistory": self.vc.GetHistory(pb.GetHistoryRequest(repo_id=repo_id)),
            "GetLog": self.vc.GetLog(pb.GetLogRequest(repo_id=repo_id)),
            "ListBranches": self.vc.ListBranches(pb.ListBranchesRequest(repo_id=repo_id)),
            "ListTags": self.vc.ListTags(pb.ListTagsRequest(repo_id=repo_id)),
            "GetCommit in repo": self.vc.GetCommit(pb.GetCommitRequest(commit_id=commit_id, repo_id=repo_id)),
            "GetCommit": self.vc.GetCommit(pb.GetCommitRequest(commit_id=commit_id)),
            "DiffCommits": self.vc.DiffCommits(pb.DiffCommitsRequest(repo_id=repo_id, base="v1", head="main")),
            "GetBlob": self.blobs.GetBlob(blobs_pb2.GetBlobRequest(blob_id=blob_id)),
            "GetBlobDownloadUrl": self.blobs.GetBlobDownloadUrl(blobs_pb2.GetBlobDownloadUrlRequest(blob_id=blob_id)),
        }


@pytest.fixture
async def published(vcs: VcsUnderTest):
    """An owner with a public and a private repository, each with two commits, a tag and a blob of its own."""
    owner = await vcs.sign_up()
    made = {}
    for visibility, frequency in (("public", 220.0), ("private", 330.0)):
        repo = await owner.create_repo(f"Song {visibility}", is_public=visibility == "public")
        audio = tone(0.3, frequency)
        blob = (await owner.upload(audio)).blob_id
        first = await owner.commit(repo.repo_id, {"drums": blob}, message="drums", bpm=90)
        await owner.vc.CreateTag(pb.CreateTagRequest(repo_id=repo.repo_id, name="v1", target="main"))
        head = await owner.commit(repo.repo_id, {}, message="faster", bpm=100)
        made[visibility] = (repo.repo_id, first.commit_id, head.commit_id, blob, audio)
    return owner, made


async def test_anyone_reads_a_public_repository_without_a_token(vcs: VcsUnderTest, published):
    owner, made = published
    repo_id, first, head, blob, audio = made["public"]
    anonymous = Anonymous(vcs.channel)
    answers = {name: await call for name, call in anonymous.reads(repo_id, first, blob).items()}
    assert answers["GetRepository"].repository.owner_username == owner.user.username
    assert [c.commit_id for c in answers["GetLog"].commits] == [head, first]
    assert [b.commit_id for b in answers["ListBranches"].branches] == [head]
    assert [t.name for t in answers["ListTags"].tags] == ["v1"]
    assert answers["GetCommit"].commit.stems[0].blob_id == blob
    assert [(m.field, m.new_value) for m in answers["DiffCommits"].metadata_changes] == [("bpm", "100")]
    assert answers["GetBlobDownloadUrl"].url
    chunks = [m.chunk async for m in anonymous.blobs.DownloadBlob(blobs_pb2.DownloadBlobRequest(blob_id=blob))]
    assert b"".join(chunks) == audio


async def test_private_repositories_do_not_exist_for_anonymous_callers(vcs: VcsUnderTest, published):
    owner, made = published
    repo_id, first, _, blob, _ = made["private"]
    anonymous = Anonymous(vcs.channel)
    for name, call in anonymous.reads(repo_id, first, blob).items():
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND, name
    download = anonymous.blobs.DownloadBlob(blobs_pb2.DownloadBlobRequest(blob_id=blob))
    assert (await rpc_error(download.read())).code() == grpc.StatusCode.NOT_FOUND
    # Made private, a public repository disappears for them too.
    public_id, public_first, _, public_blob, _ = made["public"]
    await owner.repos.UpdateRepository(
        rpb.UpdateRepositoryRequest(
            repo_id=public_id, repository=rpb.Repository(is_public=False), update_mask={"paths": ["is_public"]}
        )
    )
    for name, call in anonymous.reads(public_id, public_first, public_blob).items():
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND, name


async def test_writes_and_listings_need_a_token_and_a_bad_token_is_never_anonymous(vcs: VcsUnderTest, published):
    _, made = published
    repo_id, _, head, blob, _ = made["public"]
    anonymous = Anonymous(vcs.channel)
    calls = [
        anonymous.repos.ListRepositories(rpb.ListRepositoriesRequest()),  # "yours": only with a token
        anonymous.repos.ForkRepository(rpb.ForkRepositoryRequest(original_repo_id=repo_id)),
        anonymous.vc.CreateCommit(
            pb.CreateCommitRequest(repo_id=repo_id, message="x", stems=[pb.StemInput(name="x", blob_id=blob)])
        ),
        anonymous.vc.CreateBranch(pb.CreateBranchRequest(repo_id=repo_id, name="mine")),
        anonymous.vc.Merge(pb.MergeRequest(repo_id=repo_id, source="v1")),
        anonymous.vc.RevertCommit(pb.RevertCommitRequest(repo_id=repo_id, commit_id=head)),
    ]
    for call in calls:
        assert (await rpc_error(call)).code() == grpc.StatusCode.UNAUTHENTICATED
    forged = (("authorization", "Bearer not-a-token"),)
    error = await rpc_error(anonymous.repos.GetRepository(rpb.GetRepositoryRequest(repo_id=repo_id), metadata=forged))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
