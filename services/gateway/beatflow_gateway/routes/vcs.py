"""/api/vcs: commits, history, log, branches, tags, diff, merge, revert."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from google.protobuf import struct_pb2
from pydantic import Field

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_gateway.context import Authorised, Services, to_json
from beatflow_gateway.models import Body

router = APIRouter(prefix="/api/vcs", tags=["Version Control"])
RESOLUTIONS = {"ours": pb.CONFLICT_RESOLUTION_OURS, "theirs": pb.CONFLICT_RESOLUTION_THEIRS}


def commit_json(commit: pb.Commit) -> dict:
    """Our fields plus the seed contract's names (id, timestamp, stems[].type/duration)."""
    body = to_json(commit)
    for stem, source in zip(body["stems"], commit.stems, strict=True):
        stem.update(type=source.name, duration=source.audio.duration_seconds)
    return {**body, "id": commit.commit_id, "timestamp": body.get("create_time")}


class StemBody(Body):
    name: str = Field(max_length=100)
    blob_id: str = Field(max_length=100)


class CommitBody(Body):
    message: str = Field(max_length=10000)
    parent_commit_id: str | None = Field(default=None, max_length=100)
    branch: str = Field(default="", max_length=200)
    bpm: float = Field(default=0, ge=0, le=1e6)
    key_signature: str | None = Field(default=None, max_length=40)
    generation_params: dict[str, Any] | None = None
    stems: list[StemBody] = Field(default=[], max_length=256)
    request_id: str = Field(default="", max_length=200)


class BranchBody(Body):
    name: str = Field(max_length=200)
    start_point: str = Field(default="", max_length=200)


class MoveBranchBody(Body):
    new_commit_id: str = Field(max_length=100)
    expected_commit_id: str = Field(max_length=100)


class TagBody(Body):
    name: str = Field(max_length=200)
    target: str = Field(max_length=200)
    message: str = Field(default="", max_length=10000)


class ResolutionBody(Body):
    name: str = Field(max_length=100)
    resolution: Literal["ours", "theirs"]


class MergeBody(Body):
    source: str = Field(max_length=200)
    target_branch: str = Field(default="", max_length=200)
    source_repo_id: str = Field(default="", max_length=64)
    message: str = Field(default="", max_length=10000)
    resolutions: list[ResolutionBody] = Field(default=[], max_length=256)
    expected_target_commit_id: str = Field(default="", max_length=100)


class RevertBody(Body):
    commit_id: str = Field(max_length=100)
    branch: str = Field(default="", max_length=200)
    message: str = Field(default="", max_length=10000)


@router.post("/commit/{repo_id}", status_code=201)
async def create_commit(repo_id: str, body: CommitBody, call: Authorised, services: Services) -> dict:
    params = struct_pb2.Struct()
    params.update(body.generation_params or {})
    response = await services.versions.CreateCommit(
        pb.CreateCommitRequest(
            repo_id=repo_id,
            branch=body.branch,
            parent_commit_id=body.parent_commit_id or "",
            message=body.message,
            bpm=body.bpm,
            key_signature=body.key_signature or "",
            generation_params=params,
            stems=[pb.StemInput(name=s.name, blob_id=s.blob_id) for s in body.stems],
            request_id=body.request_id,
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return {**commit_json(response.commit), "repo_id": repo_id, "branch": response.branch}


@router.get("/commit/{commit_id}")
async def get_commit(
    commit_id: str, call: Authorised, services: Services, repo_id: str = Query(default="", max_length=64)
) -> dict:
    response = await services.versions.GetCommit(
        pb.GetCommitRequest(commit_id=commit_id, repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )
    return commit_json(response.commit)


@router.get("/history/{repo_id}")
async def history(
    repo_id: str,
    call: Authorised,
    services: Services,
    page_size: int = Query(default=0, ge=0, le=1000),
    page_token: str = Query(default="", max_length=20000),
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
        }
        for node in response.nodes
    ]
    root = commits[-1]["id"] if commits and not response.next_page_token else None
    return {**body, "commits": commits, "root": root}


@router.get("/repos/{repo_id}/log")
async def log(
    repo_id: str,
    call: Authorised,
    services: Services,
    ref: str = Query(default="", max_length=200),
    page_size: int = Query(default=0, ge=0, le=1000),
    page_token: str = Query(default="", max_length=20000),
) -> dict:
    response = await services.versions.GetLog(
        pb.GetLogRequest(repo_id=repo_id, ref=ref, page_size=page_size, page_token=page_token),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return {"commits": [commit_json(c) for c in response.commits], "next_page_token": response.next_page_token}


@router.get("/repos/{repo_id}/branches")
async def list_branches(repo_id: str, call: Authorised, services: Services) -> dict:
    response = await services.versions.ListBranches(
        pb.ListBranchesRequest(repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


@router.post("/repos/{repo_id}/branches", status_code=201)
async def create_branch(repo_id: str, body: BranchBody, call: Authorised, services: Services) -> dict:
    response = await services.versions.CreateBranch(
        pb.CreateBranchRequest(repo_id=repo_id, **body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response.branch)


@router.patch("/repos/{repo_id}/branches/{name:path}")
async def move_branch(repo_id: str, name: str, body: MoveBranchBody, call: Authorised, services: Services) -> dict:
    response = await services.versions.UpdateBranch(
        pb.UpdateBranchRequest(repo_id=repo_id, name=name, **body.model_dump()),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return to_json(response.branch)


@router.delete("/repos/{repo_id}/branches/{name:path}", status_code=204)
async def delete_branch(repo_id: str, name: str, call: Authorised, services: Services) -> None:
    await services.versions.DeleteBranch(
        pb.DeleteBranchRequest(repo_id=repo_id, name=name), metadata=call.metadata, timeout=call.timeout
    )


@router.get("/repos/{repo_id}/tags")
async def list_tags(repo_id: str, call: Authorised, services: Services) -> dict:
    response = await services.versions.ListTags(
        pb.ListTagsRequest(repo_id=repo_id), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


@router.post("/repos/{repo_id}/tags", status_code=201)
async def create_tag(repo_id: str, body: TagBody, call: Authorised, services: Services) -> dict:
    response = await services.versions.CreateTag(
        pb.CreateTagRequest(repo_id=repo_id, **body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response.tag)


@router.delete("/repos/{repo_id}/tags/{name:path}", status_code=204)
async def delete_tag(repo_id: str, name: str, call: Authorised, services: Services) -> None:
    await services.versions.DeleteTag(
        pb.DeleteTagRequest(repo_id=repo_id, name=name), metadata=call.metadata, timeout=call.timeout
    )


@router.get("/repos/{repo_id}/diff")
async def diff(
    repo_id: str,
    call: Authorised,
    services: Services,
    base: str = Query(max_length=200),
    head: str = Query(default="", max_length=200),
) -> dict:
    response = await services.versions.DiffCommits(
        pb.DiffCommitsRequest(repo_id=repo_id, base=base, head=head), metadata=call.metadata, timeout=call.timeout
    )
    return to_json(response)


@router.post("/repos/{repo_id}/merge")
async def merge(repo_id: str, body: MergeBody, call: Authorised, services: Services) -> dict:
    request = pb.MergeRequest(
        repo_id=repo_id,
        **body.model_dump(exclude={"resolutions"}),
        resolutions=[pb.StemResolution(name=r.name, resolution=RESOLUTIONS[r.resolution]) for r in body.resolutions],
    )
    response = await services.versions.Merge(request, metadata=call.metadata, timeout=call.timeout)
    body_json = to_json(response)
    if response.HasField("commit"):
        body_json["commit"] = commit_json(response.commit)
    return body_json


@router.post("/repos/{repo_id}/revert", status_code=201)
async def revert(repo_id: str, body: RevertBody, call: Authorised, services: Services) -> dict:
    response = await services.versions.RevertCommit(
        pb.RevertCommitRequest(repo_id=repo_id, **body.model_dump()), metadata=call.metadata, timeout=call.timeout
    )
    return commit_json(response.commit)
