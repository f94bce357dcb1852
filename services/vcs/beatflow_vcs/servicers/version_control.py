"""beatflow.vcs.v1.VersionControlService over `VersionControl`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from google.protobuf import json_format

from beatflow.common.v1 import audio_pb2
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow.vcs.v1 import version_control_pb2_grpc
from beatflow_audio.proto import FORMAT_FROM_PROTO
from beatflow_platform import naming
from beatflow_platform.auth import current_principal, reader_principal
from beatflow_platform.errors import InvalidArgument
from beatflow_platform.objectstore.base import require_blob_id
from beatflow_vcs import validation
from beatflow_vcs.comments import Comments
from beatflow_vcs.edits import CommitEdit, StemSpec
from beatflow_vcs.history import History
from beatflow_vcs.merges import Merges
from beatflow_vcs.merging import RangeChoice
from beatflow_vcs.renders import MixRequest, Renders
from beatflow_vcs.servicers import convert
from beatflow_vcs.servicers.commit_messages import CommitMessages
from beatflow_vcs.servicers.history_responses import HistoryResponses
from beatflow_vcs.versioning import VersionControl

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["VersionControlService"].full_name
# Reads open to anonymous callers: they see what any signed-in stranger sees (public repositories).
PUBLIC_METHODS = frozenset(
    f"/{SERVICE_NAME}/{method}"
    for method in (
        "GetCommit",
        "GetHistory",
        "GetLog",
        "ListBranches",
        "ListTags",
        "DiffCommits",
        "GetDiffPicture",
        "RenderCommit",
        "DownloadRender",
        "ListComments",
    )
)
_RESOLUTIONS = {pb.CONFLICT_RESOLUTION_OURS: "ours", pb.CONFLICT_RESOLUTION_THEIRS: "theirs"}
_OUTCOMES = {
    "up_to_date": pb.MERGE_OUTCOME_UP_TO_DATE,
    "fast_forward": pb.MERGE_OUTCOME_FAST_FORWARD,
    "merge_commit": pb.MERGE_OUTCOME_MERGE_COMMIT,
    "conflict": pb.MERGE_OUTCOME_CONFLICT,
}


class VersionControlServicer(version_control_pb2_grpc.VersionControlServiceServicer):
    def __init__(
        self, history: History, versions: VersionControl, merges: Merges, *, renders: Renders, comments: Comments
    ):
        self._history = history
        self._versions = versions
        self._merges = merges
        self._renders = renders
        self._comments = comments
        self._commit_messages = CommitMessages()
        self._history_responses = HistoryResponses(self._commit_messages)

    async def CreateCommit(
        self, request: pb.CreateCommitRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCommitResponse:
        edit = CommitEdit(
            stems=tuple(StemSpec(stem.name, stem.blob_id) for stem in request.stems),
            remove_stems=tuple(request.remove_stems),
            bpm=request.bpm,
            key_signature=request.key_signature,
            generation_params=json_format.MessageToDict(request.generation_params),
            replace_tree=request.replace_tree,
        )
        commit, branch = await self._versions.create_commit(
            current_principal(),
            request.repo_id,
            branch=request.branch,
            parent_commit_id=request.parent_commit_id,
            message=request.message,
            edit=edit,
            request_id=request.request_id,
        )
        landed = convert.commit(commit)
        landed.repo_id, landed.branch = request.repo_id, branch
        return pb.CreateCommitResponse(commit=landed, branch=branch)

    async def GetCommit(self, request: pb.GetCommitRequest, context: grpc.aio.ServicerContext) -> pb.GetCommitResponse:
        commit = await self._history.get_commit(reader_principal(), request.commit_id, request.repo_id)
        return pb.GetCommitResponse(commit=self._commit_messages.get(commit))

    async def GetHistory(
        self, request: pb.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetHistoryResponse:
        page = await self._history.history(reader_principal(), request.repo_id, request.page_size, request.page_token)
        return self._history_responses.get(request.repo_id, page)

    async def GetLog(self, request: pb.GetLogRequest, context: grpc.aio.ServicerContext) -> pb.GetLogResponse:
        commits, token = await self._history.log(
            reader_principal(), request.repo_id, request.ref, request.page_size, request.page_token
        )
        return pb.GetLogResponse(commits=[self._commit_messages.get(c) for c in commits], next_page_token=token)

    async def ListBranches(
        self, request: pb.ListBranchesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBranchesResponse:
        repo, refs = await self._history.refs(reader_principal(), request.repo_id, "branch")
        return pb.ListBranchesResponse(branches=[convert.branch(r, repo.default_branch) for r in refs])

    async def CreateBranch(
        self, request: pb.CreateBranchRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateBranchResponse:
        ref = await self._versions.create_branch(
            current_principal(), request.repo_id, request.name, request.start_point
        )
        return pb.CreateBranchResponse(branch=convert.branch(ref, ""))

    async def UpdateBranch(
        self, request: pb.UpdateBranchRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateBranchResponse:
        ref = await self._versions.update_branch(
            current_principal(), request.repo_id, request.name, request.new_commit_id, request.expected_commit_id
        )
        return pb.UpdateBranchResponse(branch=convert.branch(ref, ""))

    async def DeleteBranch(
        self, request: pb.DeleteBranchRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteBranchResponse:
        await self._versions.delete_ref(current_principal(), request.repo_id, "branch", request.name)
        return pb.DeleteBranchResponse()

    async def ListTags(self, request: pb.ListTagsRequest, context: grpc.aio.ServicerContext) -> pb.ListTagsResponse:
        _, refs = await self._history.refs(reader_principal(), request.repo_id, "tag")
        return pb.ListTagsResponse(tags=[convert.tag(r) for r in refs])

    async def CreateTag(self, request: pb.CreateTagRequest, context: grpc.aio.ServicerContext) -> pb.CreateTagResponse:
        ref = await self._versions.create_tag(
            current_principal(), request.repo_id, request.name, request.target, request.message
        )
        return pb.CreateTagResponse(tag=convert.tag(ref))

    async def DeleteTag(self, request: pb.DeleteTagRequest, context: grpc.aio.ServicerContext) -> pb.DeleteTagResponse:
        await self._versions.delete_ref(current_principal(), request.repo_id, "tag", request.name)
        return pb.DeleteTagResponse()

    async def DiffCommits(
        self, request: pb.DiffCommitsRequest, context: grpc.aio.ServicerContext
    ) -> pb.DiffCommitsResponse:
        diff = await self._history.diff(
            reader_principal(), request.repo_id, request.base, request.head, audio=not request.stems_only
        )
        return pb.DiffCommitsResponse(
            base_commit_id=diff.base.commit_id,
            head_commit_id=diff.head.commit_id,
            stem_changes=[convert.stem_change(c, diff.ranges.get(c.name)) for c in diff.stem_changes],
            metadata_changes=[
                pb.MetadataChange(field=f, old_value=o, new_value=n) for f, o, n in diff.metadata_changes
            ],
        )

    async def GetDiffPicture(
        self, request: pb.GetDiffPictureRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDiffPictureResponse:
        diff, png = await self._history.diff_picture(
            reader_principal(),
            request.repo_id,
            request.base,
            request.head,
            request.stem,
            (request.width, request.height),
        )
        return pb.GetDiffPictureResponse(
            png=png, base_commit_id=diff.base.commit_id, head_commit_id=diff.head.commit_id
        )

    async def Merge(self, request: pb.MergeRequest, context: grpc.aio.ServicerContext) -> pb.MergeResponse:
        resolutions = {}
        for index, resolution in enumerate(request.resolutions):
            if resolution.resolution not in _RESOLUTIONS:
                raise InvalidArgument.for_field(f"resolutions[{index}].resolution", "must be OURS or THEIRS")
            resolutions[naming.normalized_name(resolution.name)] = _RESOLUTIONS[resolution.resolution]
        outcome = await self._merges.merge(
            current_principal(),
            request.repo_id,
            target_branch=request.target_branch,
            source=request.source,
            source_repo_id=request.source_repo_id,
            message=request.message,
            resolutions=resolutions,
            range_choices=[_range_choice(index, r) for index, r in enumerate(request.range_resolutions)],
            expected_target=request.expected_target_commit_id,
        )
        response = pb.MergeResponse(outcome=_OUTCOMES[outcome.outcome])
        if outcome.commit is not None:
            response.commit.CopyFrom(convert.commit(outcome.commit))
        if outcome.outcome == "conflict":
            assert outcome.result is not None  # a conflict outcome carries the merge result
            response.conflicts.extend(convert.stem_conflict(c) for c in outcome.result.stem_conflicts)
            response.metadata_conflicts.extend(convert.metadata_conflict(c) for c in outcome.result.metadata_conflicts)
            response.range_conflicts.extend(convert.range_conflict(c) for c in outcome.range_conflicts)
        response.splices.extend(convert.stem_splice(s) for s in outcome.splices)
        return response

    async def RevertCommit(
        self, request: pb.RevertCommitRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevertCommitResponse:
        commit = await self._merges.revert(
            current_principal(), request.repo_id, request.commit_id, request.branch, request.message
        )
        return pb.RevertCommitResponse(commit=convert.commit(commit))

    async def RenderCommit(
        self, request: pb.RenderCommitRequest, context: grpc.aio.ServicerContext
    ) -> pb.RenderCommitResponse:
        render = await self._renders.render(
            reader_principal(), request.commit_id, request.repo_id, _mix_request(request)
        )
        return pb.RenderCommitResponse(render=convert.commit_render(render))

    async def DownloadRender(
        self, request: pb.DownloadRenderRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.DownloadRenderResponse]:
        chunks = await self._renders.read(
            reader_principal(),
            request.render.commit_id,
            request.render.repo_id,
            _mix_request(request.render),
            request.render_id,
            request.offset,
            request.length,
        )
        async for chunk in chunks:
            yield pb.DownloadRenderResponse(chunk=chunk)

    async def CreateComment(
        self, request: pb.CreateCommentRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCommentResponse:
        comment = await self._comments.create(
            current_principal(),
            request.repo_id,
            request.commit_id,
            stem=request.stem,
            start=request.start_seconds,
            end=request.end_seconds,
            body=request.body,
            parent_id=request.parent_id,
        )
        return pb.CreateCommentResponse(comment=convert.comment(comment))

    async def ListComments(
        self, request: pb.ListCommentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCommentsResponse:
        comments, token = await self._comments.list(
            reader_principal(), request.repo_id, request.commit_id, request.page_size, request.page_token
        )
        return pb.ListCommentsResponse(comments=[convert.comment(c) for c in comments], next_page_token=token)

    async def UpdateComment(
        self, request: pb.UpdateCommentRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateCommentResponse:
        comment = await self._comments.update(current_principal(), request.repo_id, request.comment_id, request.body)
        return pb.UpdateCommentResponse(comment=convert.comment(comment))

    async def DeleteComment(
        self, request: pb.DeleteCommentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteCommentResponse:
        await self._comments.delete(current_principal(), request.repo_id, request.comment_id)
        return pb.DeleteCommentResponse()


def _range_choice(index: int, resolution: pb.RangeResolution) -> RangeChoice:
    field = f"range_resolutions[{index}]"
    stem = validation.stem_reference(resolution.stem, f"{field}.stem")
    if resolution.take_blob_id:
        require_blob_id(resolution.take_blob_id, f"{field}.take_blob_id")
        source = resolution.take_blob_id
    elif resolution.resolution in _RESOLUTIONS:
        source = _RESOLUTIONS[resolution.resolution]
    else:
        raise InvalidArgument.for_field(f"{field}.resolution", "must be OURS or THEIRS unless take_blob_id is set")
    return RangeChoice(stem, resolution.start_seconds, resolution.end_seconds, source)


def _mix_request(request: pb.RenderCommitRequest) -> MixRequest:
    if request.format not in (audio_pb2.AUDIO_FORMAT_UNSPECIFIED, *FORMAT_FROM_PROTO):
        raise InvalidArgument.for_field("format", "must be WAV, FLAC, MP3 or OGG")
    return MixRequest(
        audio_format=FORMAT_FROM_PROTO.get(request.format, "WAV"),
        mute=tuple(request.mute),
        solo=tuple(request.solo),
        gain_db=dict(request.gain_db),
    )
