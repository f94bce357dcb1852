"""/api/vcs: the routes transcoding cannot serve: the diff picture (a PNG) and merge (URLs for range conflicts).

Commits, history, log, branches, tags, diffs, reverts and comments come from the protos' rules (transcoding/)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_gateway.context import OPTIONAL_TOKEN, Authorised, MediaReader, Services, to_json
from beatflow_gateway.models import (
    Body,
    Message,
    PictureHeight,
    PictureWidth,
    RefNameOrEmpty,
    Revision,
    RevisionOrEmpty,
    Sha256,
    Sha256OrEmpty,
    StemName,
    Uuid,
    UuidOrEmpty,
)

router = APIRouter(prefix="/api/vcs", tags=["Version Control"])
RESOLUTIONS = {"ours": pb.CONFLICT_RESOLUTION_OURS, "theirs": pb.CONFLICT_RESOLUTION_THEIRS}


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


@router.get(
    "/repos/{repo_id:uuid_id}/diff/picture",
    openapi_extra=OPTIONAL_TOKEN,
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "Both waveforms, changed ranges highlighted"}},
)
async def diff_picture(
    repo_id: Uuid,
    call: MediaReader,
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
