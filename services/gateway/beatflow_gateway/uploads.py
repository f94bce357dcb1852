"""Streaming an uploaded file into vcs in chunks, never holding the whole file in memory.

The multipart parser has already spooled the file; its sha256 and size go ahead of the bytes (in
UploadBlobMetadata) so that vcs can write them once, straight to their content address, verifying as they pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from fastapi import UploadFile

from beatflow.common.v1 import audio_pb2
from beatflow.vcs.v1 import blobs_pb2
from beatflow_gateway.backends import Backends
from beatflow_gateway.context import Call
from beatflow_gateway.errors import ApiError, error_reason, grpc_details
from beatflow_platform.objectstore.base import file_address

CHUNK_BYTES = 1024 * 1024


async def store_upload(file: UploadFile, call: Call, services: Backends, max_bytes: int) -> audio_pb2.BlobRef:
    """413 above `max_bytes`; 415 for what is not complete audio (or MIDI), with vcs's reason in the
    details; anything else as the backend says. vcs decodes the whole file before it answers."""
    if file.size is not None and file.size > max_bytes:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"uploads are limited to {max_bytes} bytes")
    digest, size = await asyncio.to_thread(file_address, file.file)  # a read, not another copy
    if size > max_bytes:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"uploads are limited to {max_bytes} bytes")

    async def requests() -> AsyncIterator[blobs_pb2.UploadBlobRequest]:
        filename = (file.filename or "upload").replace("\x00", "")[-255:]
        yield blobs_pb2.UploadBlobRequest(
            metadata=blobs_pb2.UploadBlobMetadata(
                filename=filename, content_type=file.content_type or "", expected_sha256=digest, size=size
            )
        )
        while chunk := await file.read(CHUNK_BYTES):
            yield blobs_pb2.UploadBlobRequest(chunk=chunk)

    try:
        response = await services.blobs.UploadBlob(requests(), metadata=call.metadata, timeout=call.slow_timeout)
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT and error_reason(error) == "NOT_AUDIO":
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", error.details() or "", grpc_details(error)) from None
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", error.details() or "") from None
        raise
    return response.blob
