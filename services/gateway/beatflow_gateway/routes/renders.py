"""/api/vcs/commit/{commit_id}/render: a commit's stems mixed to one file, streamed with Range, ETag and HEAD.

The vcs renders the mix on the first request and keeps it; this route asks for it (RenderCommit),
answers conditional and HEAD requests from its description, and streams the bytes (DownloadRender).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_gateway.context import ACCESS_TOKEN_QUERY, OPTIONAL_TOKEN, Call, MediaReader, Services
from beatflow_gateway.errors import ApiError
from beatflow_gateway.models import RepositoryNameOrEmpty, Sha256, UuidOrEmpty
from beatflow_gateway.routes.audio import FILENAME_DESCRIPTION, FORMATS, content_disposition, parse_range
from beatflow_platform import naming

router = APIRouter(prefix="/api/vcs", tags=["Version Control"])
GAIN_PREFIX = "gain."
_KNOWN_QUERY = {"format", "mute", "solo", "repo_id", "filename", ACCESS_TOKEN_QUERY}
CONTENT_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg"}
_DESCRIPTION = f"""The commit's stems mixed to one file: rendered on the first request, then served from the cache.

Query: `format` (wav, flac, mp3 or ogg; default wav), `mute=drums` and `solo=vocals` (repeated or
comma-separated stem names; with a solo only the soloed stems play, and a muted stem stays silent),
`gain.<stem>=-3` (dB, -60 to +12). Stem names in any script are sent percent-encoded in UTF-8
(`mute=%E3%83%9C%E3%83%BC%E3%82%AB%E3%83%AB`, `gain.gesang=-3`). Unknown stem names are a 400 naming them.
`filename` names the file in `Content-Disposition`. When the stems' sum
would exceed full scale the whole mix is turned down to peak at -0.1 dBFS; `X-Headroom-Gain-dB` says
by how much. `X-Render-Cache` is `hit` or `miss`. Supports `Range` (one range), `If-None-Match` and
HEAD. The token may come as `access_token` in the query (for `<audio src>`). Without a token, commits of
public repositories; at most {naming.MAX_STEMS_PER_COMMIT} names per list."""


def _names(values: list[str], field: str) -> list[str]:
    # NFC, as the vcs keeps stem names: a URL typed on a system that decomposes accents still names them.
    names = [naming.normalized_name(name) for value in values for name in value.split(",") if name]
    if len(names) > naming.MAX_STEMS_PER_COMMIT:
        raise _bad_query(field, f"at most {naming.MAX_STEMS_PER_COMMIT} stem names")
    return names


def _gains(request: Request) -> dict[str, float]:
    gains: dict[str, float] = {}
    for key, value in request.query_params.multi_items():
        if key in _KNOWN_QUERY:
            continue
        if not key.startswith(GAIN_PREFIX) or not key[len(GAIN_PREFIX) :]:
            raise _bad_query(key, "unknown query parameter (use format, mute, solo, repo_id, filename or gain.<stem>)")
        name = naming.normalized_name(key[len(GAIN_PREFIX) :])
        try:
            gain = float(value)
        except ValueError:
            raise _bad_query(key, "must be a number of dB") from None
        if not math.isfinite(gain) or name in gains:
            raise _bad_query(key, "must be a finite number of dB, given once")
        gains[name] = gain
    if len(gains) > naming.MAX_STEMS_PER_COMMIT:
        raise _bad_query("gain", f"at most {naming.MAX_STEMS_PER_COMMIT} stems")
    return gains


def _bad_query(field: str, description: str) -> ApiError:
    details = [{"type": "BadRequest", "field_violations": [{"field": field, "description": description}]}]
    return ApiError(400, "INVALID_ARGUMENT", f"{field}: {description}", details)


async def _chunks(first: pb.DownloadRenderResponse, rest: AsyncIterator[pb.DownloadRenderResponse]):
    yield first.chunk
    async for message in rest:
        yield message.chunk


async def _download(services: Services, call: Call, request: pb.DownloadRenderRequest) -> AsyncIterator[bytes]:
    """The stream of bytes, its first message already received so that errors become HTTP statuses."""
    messages = aiter(services.versions.DownloadRender(request, metadata=call.metadata, timeout=call.slow_timeout))
    first = await anext(messages, pb.DownloadRenderResponse())
    return _chunks(first, messages)


@router.head("/commit/{commit_id:sha256}/render", include_in_schema=False, response_class=Response)
@router.get(
    "/commit/{commit_id:sha256}/render",
    openapi_extra=OPTIONAL_TOKEN,
    response_class=Response,
    description=_DESCRIPTION,
    responses={
        200: {"content": {content_type: {} for content_type in CONTENT_TYPES.values()}, "description": "The mix"},
        206: {"description": "A byte range of the mix"},
        304: {"description": "Not modified (If-None-Match)"},
    },
)
async def render_commit(
    commit_id: Sha256,
    request: Request,
    call: MediaReader,
    services: Services,
    repo_id: UuidOrEmpty = "",
    format: Literal["wav", "flac", "mp3", "ogg"] = "wav",
    mute: list[str] = Query(default=[]),
    solo: list[str] = Query(default=[]),
    filename: Annotated[RepositoryNameOrEmpty, Query(description=FILENAME_DESCRIPTION)] = "",
) -> Response:
    """Listen to a commit."""
    mix = pb.RenderCommitRequest(
        commit_id=commit_id,
        repo_id=repo_id,
        format=FORMATS[format],
        mute=_names(mute, "mute"),
        solo=_names(solo, "solo"),
        gain_db=_gains(request),
    )
    render = (await services.versions.RenderCommit(mix, metadata=call.metadata, timeout=call.slow_timeout)).render
    etag = f'"{render.render_id}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=31536000, immutable",  # a commit and a mix always sound the same
        "Content-Disposition": content_disposition(filename, commit_id[:12], format),
        "X-Render-Cache": "hit" if render.cached else "miss",
        "X-Headroom-Gain-dB": f"{render.headroom_gain_db:.2f}",
    }
    if request.headers.get("if-none-match") in (etag, "*"):
        return Response(status_code=304, headers=headers)
    size = render.size_bytes
    start, length = parse_range(request.headers.get("range", ""), size) or (0, size)
    status = 200
    headers["Content-Length"] = str(length)
    if request.headers.get("range"):
        status = 206
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=render.content_type)
    download = pb.DownloadRenderRequest(render=mix, render_id=render.render_id, offset=start, length=length)
    chunks = await _download(services, call, download)
    return StreamingResponse(chunks, status_code=status, media_type=render.content_type, headers=headers)
