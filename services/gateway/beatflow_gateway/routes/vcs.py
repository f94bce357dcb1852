"""/api/vcs: commits, history, log, branches, tags, diff, merge, revert, comments on moments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from google.protobuf import struct_pb2
from pydantic import Field

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_gateway.context import OPTIONAL_TOKEN, Authorised, Reader, Services, to_json
from beatflow_gateway.models import (
    Body,
    CommitBpm,
    KeySignatureOrEmpty,
    Message,
    NonBlankMessage,
    PictureHeight,
    PictureWidth,
    RefName,
    RefNameOrEmpty,
    RequestId,
    Revision,
    RevisionOrEmpty,
    Sha256,
    Sha256OrEmpty,
    StemName,
    Uuid,
    UuidOrEmpty,
    text,
)
from beatflow_gateway.routes.renders import render_path
from beatflow_platform import naming

router = APIRouter(prefix="/api/vcs", tags=["Version Control"])
RESOLUTIONS = {"ours": pb.CONFLICT_RESOLUTION_OURS, "theirs": pb.CONFLICT_RESOLUTION_THEIRS}


def commit_json(commit: pb.Commit) -> dict:
    """Our fields plus the seed contract's names (id, timestamp, stems[].type/duration, render_url)."""
    body = to_json(commit)
    for stem, source in zip(body["stems"], commit.stems, strict=True):
        stem.update(type=source.name, duration=source.audio.duration_seconds)
    return {
        **body,
        "id": commit.commit_id,
        "timestamp": body.get("create_time"),
        "render_url": render_path(commit.commit_id),
    }


class StemBody(Body):
    name: StemName = Field(description=naming.STEM_NAME_RULE)
    blob_id: Sha256


class CommitBody(Body):
    """An edit of the parent commit: only what changes is named, the rest is the parent's.
    With `replace_tree`, the whole new commit instead (stems not listed are dropped, nothing is inherited)."""

    message: NonBlankMessage
    parent_commit_id: Sha256OrEmpty | None = Field(
        default=None,
        description="Optional compare-and-swap: the branch head you built on (409 with the current head when the"
        " branch has moved). Absent: the branch head, whatever it is now.",
    )
    branch: RefNameOrEmpty = Field(default="", description="Empty: the default branch; a new name creates it")
    bpm: CommitBpm | None = Field(
        default=None, description="Absent, null or 0: the parent's (with replace_tree: unknown)"
    )
    key_signature: KeySignatureOrEmpty | None = Field(
        default=None, examples=["A minor", "F#m"], description="Absent or empty: the parent's"
    )
    generation_params: dict[str, Any] | None = Field(default=None, description="Absent or {}: the parent's")
    stems: list[StemBody] = Field(
        default=[],
        max_length=naming.MAX_STEMS_PER_COMMIT,
        description="Stems to add or replace; with replace_tree, every stem of the new commit",
    )
    remove_stems: list[StemName] = Field(
        default=[], max_length=naming.MAX_STEMS_PER_COMMIT, description="Stems of the parent to drop"
    )
    replace_tree: bool = Field(default=False, description="The full-tree form: nothing is inherited from the parent")
    request_id: RequestId = ""


class BranchBody(Body):
    name: RefName = Field(description=naming.REF_NAME_RULE)
    start_point: RevisionOrEmpty = Field(
        default="", description="A branch, tag or commit id; empty: the default branch"
    )


class MoveBranchBody(Body):
    new_commit_id: Sha256
    expected_commit_id: Sha256


class TagBody(Body):
    name: RefName = Field(description=naming.REF_NAME_RULE)
    target: Revision
    message: Message = ""


# Times within a stem, in seconds (a day at most).
Seconds = Annotated[float, Field(ge=0, le=86400)]


class ResolutionBody(Body):
    name: StemName
    resolution: Literal["ours", "theirs"]


class _RangeBody(Body):
    stem: StemName
    start_seconds: Seconds
    end_seconds: Seconds


class RangeSideBody(_RangeBody):
    """Settles a range conflict with one side's audio from start to end."""

    resolution: Literal["ours", "theirs"]


class RangeTakeBody(_RangeBody):
    """Settles a range conflict with a new take (a blob of the whole stem) from start to end."""

    resolution: Literal["take"]
    take_blob_id: Sha256


# The schema says which fields go with which resolution (a take needs its blob, a side has none).
RangeResolutionBody = Annotated[RangeSideBody | RangeTakeBody, Field(discriminator="resolution")]


class MergeBody(Body):
    source: Revision
    target_branch: RefNameOrEmpty = ""
    source_repo_id: UuidOrEmpty = Field(default="", description="Merge from a fork; empty: this repository")
    message: Message = ""
    resolutions: list[ResolutionBody] = Field(default=[], max_length=256)
    range_resolutions: list[RangeResolutionBody] = Field(default=[], max_length=256)
    expected_target_commit_id: Sha256OrEmpty = ""


class RevertBody(Body):
    commit_id: Sha256
    branch: RefNameOrEmpty = ""
    message: Message = ""


@router.post("/commit/{repo_id:uuid_id}", status_code=201)
async def create_commit(repo_id: Uuid, body: CommitBody, call: Authorised, services: Services) -> dict:
    params = struct_pb2.Struct()
    params.update(body.generation_params or {})
    response = await services.versions.CreateCommit(
        pb.CreateCommitRequest(
            repo_id=repo_id,
            branch=body.branch,
            parent_commit_id=body.parent_commit_id or "",
            message=body.message,
            bpm=body.bpm or 0,
            key_signature=body.key_signature or "",
            generation_params=params,
            stems=[pb.StemInput(name=s.name, blob_id=s.blob_id) for s in body.stems],
            remove_stems=body.remove_stems,
            replace_tree=body.replace_tree,
            request_id=body.request_id,
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return {**commit_json(response.commit), "repo_id": repo_id, "branch": response.branch}


@router.get("/commit/{commit_id:sha256}", openapi_extra=OPTIONAL_TOKEN)
async def get_commit(commit_id: Sha256, call: Reader, services: Services, repo_id: UuidOrEmpty = "") -> dict:
    response = await services.versions.GetCommit(
        pb.GetCommitRequest(commit_id=commit_id, repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )
    return commit_json(response.commit)


@router.get("/history/{repo_id:uuid_id}", openapi_extra=OPTIONAL_TOKEN)
async def history(
    repo_id: Uuid,
    call: Reader,
    services: Services,
    page_size: int = Query(default=0, ge=0, le=1000),
    page_token: text(20000) = "",
) -> dict:
    """The commit DAG for a tree view, newest first; "commits" keeps the seed contract's shape."""
    response = await services.versions.GetHistory(
        pb.GetHistoryRequest(repo_id=repo_id, page_size=page_size, page_token=page_token),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    body = to_json(response)
    commits = [
        {
            "id": node.commit.commit_id,
            "parent_id": node.commit.parent_ids[0] if node.commit.parent_ids else None,
            "parent_ids": list(node.commit.parent_ids),
            "message": node.commit.message,
            "timestamp": to_json(node.commit).get("create_time"),
            "bpm": node.commit.bpm,
            "key_signature": node.commit.key_signature,
            "branch_heads": list(node.branch_heads),
            "tags": list(node.tags),
            "render_url": render_path(node.commit.commit_id),
        }
        for node in response.nodes
    ]
    root = commits[-1]["id"] if commits and not response.next_page_token else None
    return {**body, "commits": commits, "root": root}


@router.get("/repos/{repo_id:uuid_id}/log", openapi_extra=OPTIONAL_TOKEN)
async def log(
    repo_id: Uuid,
    call: Reader,
    services: Services,
    ref: RevisionOrEmpty = "",
    page_size: int = Query(default=0, ge=0, le=1000),
    page_token: text(20000) = "",
) -> dict:
    response = await services.versions.GetLog(
        pb.GetLogRequest(repo_id=repo_id, ref=ref, page_size=page_size, page_token=page_token),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return {"commits": [commit_json(c) for c in response.commits], "next_page_token": response.next_page_token}


@router.get("/repos/{repo_id:uuid_id}/branches", openapi_extra=OPTIONAL_TOKEN)
async def list_branches(repo_id: Uuid, call: Reader, services: Services) -> dict:
    response = await services.versions.ListBranches(
        pb.ListBranchesRequest(repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


@router.post("/repos/{repo_id:uuid_id}/branches", status_code=201)
async def create_branch(repo_id: Uuid, body: BranchBody, call: Authorised, services: Services) -> dict:
    response = await services.versions.CreateBranch(
        pb.CreateBranchRequest(repo_id=repo_id, **body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response.branch)


@router.patch("/repos/{repo_id:uuid_id}/branches/{name:path}")
async def move_branch(repo_id: Uuid, name: RefName, body: MoveBranchBody, call: Authorised, services: Services) -> dict:
    response = await services.versions.UpdateBranch(
        pb.UpdateBranchRequest(repo_id=repo_id, name=name, **body.model_dump()),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return to_json(response.branch)


@router.delete("/repos/{repo_id:uuid_id}/branches/{name:path}", status_code=204)
async def delete_branch(repo_id: Uuid, name: RefName, call: Authorised, services: Services) -> None:
    await services.versions.DeleteBranch(
        pb.DeleteBranchRequest(repo_id=repo_id, name=name), metadata=call.metadata, timeout=call.timeout
    )


@router.get("/repos/{repo_id:uuid_id}/tags", openapi_extra=OPTIONAL_TOKEN)
async def list_tags(repo_id: Uuid, call: Reader, services: Services) -> dict:
    response = await services.versions.ListTags(
        pb.ListTagsRequest(repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


@router.post("/repos/{repo_id:uuid_id}/tags", status_code=201)
async def create_tag(repo_id: Uuid, body: TagBody, call: Authorised, services: Services) -> dict:
    response = await services.versions.CreateTag(
        pb.CreateTagRequest(repo_id=repo_id, **body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response.tag)


@router.delete("/repos/{repo_id:uuid_id}/tags/{name:path}", status_code=204)
async def delete_tag(repo_id: Uuid, name: RefName, call: Authorised, services: Services) -> None:
    await services.versions.DeleteTag(
        pb.DeleteTagRequest(repo_id=repo_id, name=name), metadata=call.metadata, timeout=call.timeout
    )


@router.get("/repos/{repo_id:uuid_id}/diff", openapi_extra=OPTIONAL_TOKEN)
async def diff(
    repo_id: Uuid,
    call: Reader,
    services: Services,
    base: Revision,
    head: RevisionOrEmpty = "",
    stems_only: bool = Query(default=False, description="Compare trees only: no changed time ranges"),
) -> dict:
    """Stems added, removed and modified; for modified stems, the time ranges that changed (see docs/vcs.md)."""
    response = await services.versions.DiffCommits(
        pb.DiffCommitsRequest(repo_id=repo_id, base=base, head=head, stems_only=stems_only),
        metadata=call.metadata,
        timeout=call.slow_timeout,
    )
    return to_json(response)


@router.get(
    "/repos/{repo_id:uuid_id}/diff/picture",
    openapi_extra=OPTIONAL_TOKEN,
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "Both waveforms, changed ranges highlighted"}},
)
async def diff_picture(
    repo_id: Uuid,
    call: Reader,
    services: Services,
    base: Revision,
    stem: StemName,
    head: RevisionOrEmpty = "",
    width: PictureWidth = 0,
    height: PictureHeight = 0,
) -> Response:
    response = await services.versions.GetDiffPicture(
        pb.GetDiffPictureRequest(repo_id=repo_id, base=base, head=head, stem=stem, width=width, height=height),
        metadata=call.metadata,
        timeout=call.slow_timeout,
    )
    return Response(
        response.png,
        media_type="image/png",
        headers={
            "X-Base-Commit": response.base_commit_id,
            "X-Head-Commit": response.head_commit_id,
            # The commits named by id never change; refs move, so the picture is only cached briefly.
            "Cache-Control": "private, max-age=60",
        },
    )


@router.post("/repos/{repo_id:uuid_id}/merge")
async def merge(repo_id: Uuid, body: MergeBody, call: Authorised, services: Services) -> dict:
    """Stems both sides changed in different bars are spliced; overlapping changes come back as range_conflicts,
    each with URLs that play the base, ours and theirs in that range (media fragments: `#t=start,end`)."""
    request = pb.MergeRequest(
        repo_id=repo_id,
        **body.model_dump(exclude={"resolutions", "range_resolutions"}),
        resolutions=[pb.StemResolution(name=r.name, resolution=RESOLUTIONS[r.resolution]) for r in body.resolutions],
        range_resolutions=[_range_resolution(r) for r in body.range_resolutions],
    )
    response = await services.versions.Merge(request, metadata=call.metadata, timeout=call.slow_timeout)
    body_json = to_json(response)
    if response.HasField("commit"):
        body_json["commit"] = commit_json(response.commit)
    for conflict in body_json["range_conflicts"]:
        fragment = f"#t={conflict['start_seconds']},{conflict['end_seconds']}"
        for side in ("base", "ours", "theirs"):
            conflict[f"{side}_url"] = f"/api/audio/download/{conflict[f'{side}_blob_id']}{fragment}"
    return body_json


def _range_resolution(body: RangeSideBody | RangeTakeBody) -> pb.RangeResolution:
    return pb.RangeResolution(
        stem=body.stem,
        start_seconds=body.start_seconds,
        end_seconds=body.end_seconds,
        resolution=RESOLUTIONS.get(body.resolution, pb.CONFLICT_RESOLUTION_UNSPECIFIED),
        take_blob_id=getattr(body, "take_blob_id", ""),
    )


@router.post("/repos/{repo_id:uuid_id}/revert", status_code=201)
async def revert(repo_id: Uuid, body: RevertBody, call: Authorised, services: Services) -> dict:
    response = await services.versions.RevertCommit(
        pb.RevertCommitRequest(repo_id=repo_id, **body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return commit_json(response.commit)


# ----- comments on moments -----------------------------------------------------------------------


class CommentBody(Body):
    body: NonBlankMessage
    stem: Literal[""] | StemName = Field(default="", description="Empty: the whole mix")
    start_seconds: Seconds = 0.0
    end_seconds: Seconds = Field(default=0.0, description="0: a moment at start_seconds")
    parent_id: UuidOrEmpty = Field(default="", description="Reply to this comment (its anchor is the thread's)")


class CommentEditBody(Body):
    body: NonBlankMessage


@router.post("/repos/{repo_id:uuid_id}/commits/{commit_id:sha256}/comments", status_code=201)
async def create_comment(
    repo_id: Uuid, commit_id: Sha256, body: CommentBody, call: Authorised, services: Services
) -> dict:
    """Comment on a moment: a stem (or the mix) of a commit between two times. Anyone signed in who can read the
    repository may comment."""
    response = await services.versions.CreateComment(
        pb.CreateCommentRequest(repo_id=repo_id, commit_id=commit_id, **body.model_dump()),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return to_json(response.comment)


@router.get("/repos/{repo_id:uuid_id}/commits/{commit_id:sha256}/comments", openapi_extra=OPTIONAL_TOKEN)
async def list_comments(
    repo_id: Uuid,
    commit_id: Sha256,
    call: Reader,
    services: Services,
    page_size: int = Query(default=0, ge=0, le=500),
    page_token: text(20000) = "",
) -> dict:
    """The commit's comments, oldest first, with those of earlier commits whose region is unchanged (moved onto this
    commit's timeline: shown_start_seconds/shown_end_seconds) and those whose region changed (outdated)."""
    response = await services.versions.ListComments(
        pb.ListCommentsRequest(repo_id=repo_id, commit_id=commit_id, page_size=page_size, page_token=page_token),
        metadata=call.metadata,
        timeout=call.slow_timeout,
    )
    return to_json(response)


@router.patch("/repos/{repo_id:uuid_id}/comments/{comment_id:uuid_id}")
async def edit_comment(
    repo_id: Uuid, comment_id: Uuid, body: CommentEditBody, call: Authorised, services: Services
) -> dict:
    response = await services.versions.UpdateComment(
        pb.UpdateCommentRequest(repo_id=repo_id, comment_id=comment_id, body=body.body),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return to_json(response.comment)


@router.delete("/repos/{repo_id:uuid_id}/comments/{comment_id:uuid_id}", status_code=204)
async def delete_comment(repo_id: Uuid, comment_id: Uuid, call: Authorised, services: Services) -> None:
    await services.versions.DeleteComment(
        pb.DeleteCommentRequest(repo_id=repo_id, comment_id=comment_id), metadata=call.metadata, timeout=call.timeout
    )
