"""beatflow.vcs.v1.BlobService over `Blobs`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from beatflow.vcs.v1 import blobs_pb2, blobs_pb2_grpc
from beatflow_platform.auth import current_principal, reader_principal
from beatflow_platform.errors import InvalidArgument
from beatflow_vcs.blobs import Blobs
from beatflow_vcs.servicers import convert

SERVICE_NAME = blobs_pb2.DESCRIPTOR.services_by_name["BlobService"].full_name
# Reads open to anonymous callers: they see what any signed-in stranger sees (public repositories).
PUBLIC_METHODS = frozenset(f"/{SERVICE_NAME}/{method}" for method in ("DownloadBlob", "GetBlob", "GetBlobDownloadUrl"))


class BlobServicer(blobs_pb2_grpc.BlobServiceServicer):
    def __init__(self, blobs: Blobs):
        self._blobs = blobs

    async def UploadBlob(
        self, request_iterator: AsyncIterator[blobs_pb2.UploadBlobRequest], context: grpc.aio.ServicerContext
    ) -> blobs_pb2.UploadBlobResponse:
        requests = aiter(request_iterator)
        first = await anext(requests, None)
        if first is None or first.WhichOneof("part") != "metadata":
            raise InvalidArgument.for_field("metadata", "the first message must carry the upload's metadata")

        async def chunks() -> AsyncIterator[bytes]:
            async for message in requests:
                if message.WhichOneof("part") != "chunk":
                    raise InvalidArgument.for_field("chunk", "only the first message may carry metadata")
                yield message.chunk

        blob = await self._blobs.upload(
            current_principal(),
            chunks(),
            filename=first.metadata.filename,
            expected_sha256=first.metadata.expected_sha256,
            size_bytes=first.metadata.size,  # 0 (not announced): counted as the stream passes
        )
        return blobs_pb2.UploadBlobResponse(blob=convert.blob(blob))

    async def DownloadBlob(
        self, request: blobs_pb2.DownloadBlobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[blobs_pb2.DownloadBlobResponse]:
        blob, chunks = await self._blobs.read(reader_principal(), request.blob_id, request.offset, request.length)
        first = True
        async for chunk in chunks:
            yield blobs_pb2.DownloadBlobResponse(blob=convert.blob(blob) if first else None, chunk=chunk)
            first = False
        if first:  # an empty range still tells the caller what the blob is
            yield blobs_pb2.DownloadBlobResponse(blob=convert.blob(blob))

    async def GetBlob(
        self, request: blobs_pb2.GetBlobRequest, context: grpc.aio.ServicerContext
    ) -> blobs_pb2.GetBlobResponse:
        blob = await self._blobs.readable(reader_principal(), request.blob_id)
        return blobs_pb2.GetBlobResponse(blob=convert.blob(blob))

    async def GetBlobDownloadUrl(
        self, request: blobs_pb2.GetBlobDownloadUrlRequest, context: grpc.aio.ServicerContext
    ) -> blobs_pb2.GetBlobDownloadUrlResponse:
        url, expires = await self._blobs.download_url(reader_principal(), request.blob_id, request.expires_in_seconds)
        return blobs_pb2.GetBlobDownloadUrlResponse(url=url, expires_in_seconds=expires)
