"""How services read and write audio blobs: through the vcs BlobService, acting for a user.

vcs is the only writer of blob metadata, so a generated stem becomes a blob the job's owner
may commit, exactly like an upload of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import grpc

from beatflow.common.v1 import audio_pb2
from beatflow.vcs.v1 import blobs_pb2, blobs_pb2_grpc
from beatflow_platform.errors import InvalidArgument
from beatflow_platform.service_auth import ServiceTokenSource
from beatflow_platform.vcs_errors import from_vcs

CHUNK_BYTES = 1024 * 1024


class BlobClient:
    def __init__(self, channel: grpc.aio.Channel, tokens: ServiceTokenSource, *, timeout_seconds: float = 120.0):
        self._stub = blobs_pb2_grpc.BlobServiceStub(channel)
        self._tokens = tokens
        self._timeout = timeout_seconds

    async def upload(self, data: bytes, *, filename: str, owner_id: str) -> audio_pb2.BlobRef:
        async def requests() -> AsyncIterator[blobs_pb2.UploadBlobRequest]:
            yield blobs_pb2.UploadBlobRequest(
                metadata=blobs_pb2.UploadBlobMetadata(
                    filename=filename, expected_sha256=hashlib.sha256(data).hexdigest(), size=len(data)
                )
            )
            for start in range(0, len(data), CHUNK_BYTES):
                yield blobs_pb2.UploadBlobRequest(chunk=data[start : start + CHUNK_BYTES])

        try:
            response = await self._stub.UploadBlob(
                requests(),
                metadata=self._tokens.metadata(on_behalf_of=owner_id),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as error:
            raise from_vcs(error, "blob", "", refused="BLOB_REFUSED") from None
        return response.blob

    async def describe(self, blob_id: str, *, owner_id: str) -> audio_pb2.BlobRef:
        """The blob's size and audio description, read as its owner would (NOT_FOUND for another's)."""
        try:
            response = await self._stub.GetBlob(
                blobs_pb2.GetBlobRequest(blob_id=blob_id),
                metadata=self._tokens.metadata(on_behalf_of=owner_id),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as error:
            raise from_vcs(error, "blob", blob_id, refused="BLOB_REFUSED") from None
        return response.blob

    async def download(self, blob_id: str, *, owner_id: str, max_bytes: int) -> bytes:
        """The whole blob, read as its owner would; larger than `max_bytes` is INVALID_ARGUMENT."""
        data = bytearray()
        try:
            async for message in self._stub.DownloadBlob(
                blobs_pb2.DownloadBlobRequest(blob_id=blob_id),
                metadata=self._tokens.metadata(on_behalf_of=owner_id),
                timeout=self._timeout,
            ):
                if message.HasField("blob") and message.blob.size_bytes > max_bytes:
                    raise InvalidArgument(
                        f"blob {blob_id} is {message.blob.size_bytes} bytes; the limit here is {max_bytes}",
                        reason="BLOB_TOO_LARGE",
                    )
                data += message.chunk
        except grpc.aio.AioRpcError as error:
            raise from_vcs(error, "blob", blob_id, refused="BLOB_REFUSED") from None
        return bytes(data)
