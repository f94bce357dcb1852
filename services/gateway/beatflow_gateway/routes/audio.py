"""/api/audio: streamed uploads, and downloads with HTTP Range, ETag and optional conversion."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse

from beatflow.common.v1 import audio_pb2
from beatflow.separator.v1 import separator_pb2 as sep
from beatflow.vcs.v1 import blobs_pb2
from beatflow_gateway.backends import Backends
from beatflow_gateway.context import OPTIONAL_TOKEN, Authorised, Call, MediaReader, Services, to_json
from beatflow_gateway.errors import ApiError
from beatflow_gateway.models import RepositoryNameOrEmpty, Sha256
from beatflow_gateway.uploads import store_upload
from beatflow_platform import naming

router = APIRouter(prefix="/api/audio", tags=["Audio"])
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# What a plain `filename="..."` replaces: the quoted-string's own syntax, characters some file systems
# reserve, and '%' and ';', which some clients decode or split on.
_UNSAFE_IN_FALLBACK = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|%;]+')
FILENAME_DESCRIPTION = "The name to save the file as, without its extension (e.g. a stem's or repository's name)"
FORMATS = {
    "wav": audio_pb2.AUDIO_FORMAT_WAV,
    "flac": audio_pb2.AUDIO_FORMAT_FLAC,
    "mp3": audio_pb2.AUDIO_FORMAT_MP3,
    "ogg": audio_pb2.AUDIO_FORMAT_OGG,
}
EXTENSIONS = {
    "audio/wav": "wav",
    "audio/aiff": "aiff",
    "audio/flac": "flac",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/midi": "mid",
}


@router.post("/upload", status_code=201)
async def upload(request: Request, call: Authorised, services: Services, file: UploadFile = File()) -> dict:
    """Stores an audio file (WAV, AIFF, FLAC, OGG, MP3) or a Standard MIDI File as a blob, once it has
    decoded whole; 413 above the size limit, 415 (with the reason) for anything else, truncated files included."""
    blob = await store_upload(file, call, services, request.app.state.settings.max_upload_bytes)
    return {**to_json(blob), "filename": file.filename, "size": blob.size_bytes}


def content_disposition(name: str, default_name: str, extension: str) -> str:
    """`inline` with a file name: `name` (any script) as RFC 6266 / RFC 5987 `filename*=UTF-8''...`, and
    an ASCII `filename` for clients that read only that (accents dropped, other characters replaced; the
    id-based `default_name` when nothing readable is left). Without `name`, `default_name` alone."""
    if not name:
        return f'inline; filename="{default_name}.{extension}"'
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = _UNSAFE_IN_FALLBACK.sub("_", ascii_name).strip(" ._")
    if not any(character.isalnum() for character in fallback):
        fallback = default_name
    encoded = quote(f"{naming.normalized_name(name)}.{extension}", safe="")
    return f"inline; filename=\"{fallback}.{extension}\"; filename*=UTF-8''{encoded}"


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first byte, length) of a single `bytes=` range, None without one; 416 when unsatisfiable."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or (not match[1] and not match[2]):
        raise ApiError(416, "RANGE_NOT_SATISFIABLE", "only one 'bytes=start-end' range is supported")
    if not match[1]:  # the last N bytes
        length = min(int(match[2]), size)
        start = size - length
    else:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
        length = end - start + 1
    if start >= size or length <= 0:
        raise ApiError(416, "RANGE_NOT_SATISFIABLE", f"the blob has {size} bytes")
    return start, length


async def _chunks(services: Backends, call: Call, blob_id: str, offset: int, length: int) -> AsyncIterator[bytes]:
    stream = services.blobs.DownloadBlob(
        blobs_pb2.DownloadBlobRequest(blob_id=blob_id, offset=offset, length=length),
        metadata=call.metadata,
        timeout=call.slow_timeout,
    )
    async for message in stream:
        if message.chunk:
            yield message.chunk


@router.get(
    "/download/{blob_id:sha256}",
    response_class=Response,
    responses={206: {"description": "A byte range"}},
    openapi_extra=OPTIONAL_TOKEN,
)
async def download(
    blob_id: Sha256,
    request: Request,
    call: MediaReader,
    services: Services,
    format: Literal["", "wav", "flac", "mp3", "ogg"] = Query(
        default="", description="Convert before sending (needs a token)"
    ),
    filename: Annotated[RepositoryNameOrEmpty, Query(description=FILENAME_DESCRIPTION)] = "",
):
    """A blob you uploaded or one in a repository you may read; without a token, blobs of public repositories."""
    if format:
        if not call.authenticated:
            # The separator converts on behalf of a user; a stranger first learns only whether the blob is public.
            await services.blobs.GetBlob(
                blobs_pb2.GetBlobRequest(blob_id=blob_id), metadata=call.metadata, timeout=call.timeout
            )
            raise ApiError(401, "UNAUTHENTICATED", "converting needs 'Authorization: Bearer <access token>'")
        converted = await services.separation.ConvertAudio(
            sep.ConvertAudioRequest(blob_id=blob_id, format=FORMATS[format]),
            metadata=call.metadata,
            timeout=call.slow_timeout,
        )
        blob_id = converted.blob.blob_id
    blob = (
        await services.blobs.GetBlob(
            blobs_pb2.GetBlobRequest(blob_id=blob_id), metadata=call.metadata, timeout=call.timeout
        )
    ).blob
    etag = f'"{blob.blob_id}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=31536000, immutable",  # content-addressed: never changes
        "Content-Disposition": content_disposition(
            filename, blob.blob_id[:16], EXTENSIONS.get(blob.content_type, "bin")
        ),
    }
    if request.headers.get("if-none-match") in (etag, "*"):
        return Response(status_code=304, headers=headers)
    size = blob.size_bytes
    byte_range = parse_range(request.headers.get("range", ""), size) if size else None
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_chunks(services, call, blob_id, 0, 0), media_type=blob.content_type, headers=headers)
    start, length = byte_range
    headers.update({"Content-Length": str(length), "Content-Range": f"bytes {start}-{start + length - 1}/{size}"})
    return StreamingResponse(
        _chunks(services, call, blob_id, start, length), status_code=206, media_type=blob.content_type, headers=headers
    )
