"""Blobs in an S3 bucket (MinIO in production) through the `minio` client.

An upload whose sha256 and size are known up front (what vcs's callers send) is one streamed PUT
straight to `blobs/<sha256>`: each byte is written once, and the last chunk is held back until the
stream has been verified, so a wrong or broken stream never completes the request and S3 stores
nothing under the final key. Bytes already stored are only read and verified, never written.
Without the hash and size, the stream goes to a temporary key as a multipart upload while it is
hashed and is then copied server-side to its address (two writes or more). Memory stays bounded (a few
chunks, or about two multipart parts) and no local disk is needed (pods run with a read-only root
filesystem). Temporary keys left by a crash expire through a bucket lifecycle rule.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Coroutine
from contextlib import aclosing
from datetime import timedelta
from typing import IO, cast

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, REPLACE, ComposeSource, CopySource, Filter
from minio.error import S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule
from urllib3 import BaseHTTPResponse

from beatflow_platform.errors import Unavailable
from beatflow_platform.logging import get_logger
from beatflow_platform.objectstore.base import (
    READ_CHUNK_BYTES,
    BlobNotFound,
    ChecksumMismatch,
    SizeMismatch,
    StoredBlob,
    checked_range,
    drain_verified,
    require_blob_id,
    verified,
)
from beatflow_platform.objectstore.named import Namespace, ObjectInfo, ObjectMissing, object_key, require_namespace
from beatflow_platform.objectstore.pipe import AsyncToSyncPipe, iterate_in_thread
from beatflow_platform.settings import ObjectStoreSettings

_log = get_logger("beatflow.objectstore.s3")
_TMP_PREFIX = "tmp/"
_PUT_EXPIRY = timedelta(hours=6)  # checked when a PUT starts, so it only has to outlast the wait for it
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}


class S3ObjectStore:
    supports_presigned_urls = True

    def __init__(self, settings: ObjectStoreSettings, *, tmp_expiry_days: int = 1):
        self._bucket = settings.bucket
        self._part_size = settings.part_size_bytes
        self._tmp_expiry_days = tmp_expiry_days
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=60),
            maxsize=16,
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self._client = Minio(
            settings.endpoint,
            access_key=settings.access_key.get_secret_value(),
            secret_key=settings.secret_key.get_secret_value(),
            secure=settings.secure,
            region=settings.region,
            http_client=self._http,
        )

    @staticmethod
    def _key(blob_id: str) -> str:
        return f"blobs/{require_blob_id(blob_id)}"

    async def ensure_bucket(self) -> None:
        """Creates the bucket and the rule that expires abandoned temporary uploads."""
        await _call(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        if not self._client.bucket_exists(self._bucket):
            try:
                self._client.make_bucket(self._bucket)
            except S3Error as error:
                if error.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
        rule = Rule(
            ENABLED,
            rule_filter=Filter(prefix=_TMP_PREFIX),
            rule_id="expire-abandoned-uploads",
            expiration=Expiration(days=self._tmp_expiry_days),
        )
        try:
            self._client.set_bucket_lifecycle(self._bucket, LifecycleConfig([rule]))
        except S3Error as error:
            # Some S3 servers lack lifecycle support; uploads still work, orphans just stay.
            _log.warning("bucket lifecycle rule not set", bucket=self._bucket, error=error.code)

    async def put(
        self, chunks: AsyncIterable[bytes], *, expected_sha256: str | None = None, size: int | None = None
    ) -> StoredBlob:
        if expected_sha256 is not None and await self.exists(expected_sha256):
            return StoredBlob(expected_sha256, await drain_verified(chunks, expected_sha256))
        if expected_sha256 is not None and size is not None:
            return await self._put_in_place(chunks, expected_sha256, size)
        return await self._put_through_staging(chunks, expected_sha256)

    async def _put_in_place(self, chunks: AsyncIterable[bytes], blob_id: str, size: int) -> StoredBlob:
        """One streamed PUT to `blobs/<sha256>`; the last chunk is held back until the stream proves to be
        `size` bytes hashing to `blob_id`, else the request is cut short and S3 stores nothing."""
        url = await _call(self._client.presigned_put_object, self._bucket, self._key(blob_id), expires=_PUT_EXPIRY)
        pipe = AsyncToSyncPipe(asyncio.get_running_loop())

        async def produce() -> None:
            digest = hashlib.sha256()
            written = 0
            pending = b""
            async for chunk in chunks:
                written += len(chunk)
                if written > size:
                    raise SizeMismatch(size, written)
                digest.update(chunk)
                await pipe.put(pending)
                pending = chunk
            if written != size:
                raise SizeMismatch(size, written)
            if (actual := digest.hexdigest()) != blob_id:
                raise ChecksumMismatch(blob_id, actual)
            await pipe.put(pending)
            await pipe.close()

        await _pump(produce(), _call(self._send_put, url, pipe, size), pipe)
        return StoredBlob(blob_id, size, created=True)

    def _send_put(self, url: str, body: AsyncToSyncPipe | bytes | bytearray, size: int) -> None:
        """One PUT to a presigned URL. A stream cannot be sent twice, so it is never retried; bytes in memory are
        retried as the pool retries (the PUT replaces the object with the same bytes)."""
        streamed = isinstance(body, AsyncToSyncPipe)
        response = self._http.request(
            "PUT",
            url,
            # urllib3 sends any buffer (a pack's bytearray) as one chunk without a copy; its type names bytes only.
            body=cast(IO[bytes], body) if streamed else cast(bytes, body),
            headers={"Content-Length": str(size)},
            retries=False if streamed else None,
            preload_content=True,
        )
        if response.status != 200:
            raise Unavailable(
                f"object store refused the upload: HTTP {response.status} {response.data[:300]!r}",
                reason="OBJECT_STORE_UNAVAILABLE",
            )

    async def _put_through_staging(self, chunks: AsyncIterable[bytes], expected_sha256: str | None) -> StoredBlob:
        """For callers that cannot name the hash and size up front: a multipart upload of unknown length to
        a temporary key, then a server-side copy to the content address (the bytes are written at least twice)."""
        tmp_key = f"{_TMP_PREFIX}{uuid.uuid4().hex}"
        pipe = AsyncToSyncPipe(asyncio.get_running_loop())
        digest = hashlib.sha256()
        size = 0

        async def produce() -> None:
            nonlocal size
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                await pipe.put(chunk)
            await pipe.close()

        upload = _call(
            self._client.put_object,
            self._bucket,
            tmp_key,
            pipe,
            length=-1,
            part_size=self._part_size,
            num_parallel_uploads=1,
        )
        try:
            await _pump(produce(), upload, pipe)
            blob_id = digest.hexdigest()
            if expected_sha256 is not None and expected_sha256 != blob_id:
                raise ChecksumMismatch(expected_sha256, blob_id)
            if await self.exists(blob_id):
                return StoredBlob(blob_id, size)
            await _call(
                self._client.compose_object, self._bucket, self._key(blob_id), [ComposeSource(self._bucket, tmp_key)]
            )
            return StoredBlob(blob_id, size, created=True)
        finally:
            await asyncio.shield(self._remove_quietly(tmp_key))

    async def _remove_quietly(self, key: str) -> None:
        try:
            await _call(self._client.remove_object, self._bucket, key)
        except Unavailable as error:
            _log.warning("temporary upload not removed; the lifecycle rule will expire it", key=key, error=str(error))

    async def stat(self, blob_id: str) -> StoredBlob:
        try:
            info = await _call(self._client.stat_object, self._bucket, self._key(blob_id))
        except S3Error as error:
            if error.code in _NOT_FOUND_CODES:
                raise BlobNotFound(blob_id) from None
            raise
        return StoredBlob(blob_id, int(info.size))

    async def exists(self, blob_id: str) -> bool:
        try:
            await self.stat(blob_id)
        except BlobNotFound:
            return False
        return True

    async def read(self, blob_id: str, offset: int = 0, length: int | None = None) -> AsyncGenerator[bytes, None]:
        blob = await self.stat(blob_id)
        start, count = checked_range(blob, offset, length)
        if count == 0:
            return
        response = await _call(self._client.get_object, self._bucket, self._key(blob_id), offset=start, length=count)
        try:
            chunks = iterate_in_thread(response.stream(READ_CHUNK_BYTES))
            if start == 0 and count == blob.size:
                chunks = verified(blob_id, chunks)
            async with aclosing(chunks):
                async for chunk in chunks:
                    yield chunk
        finally:
            _release(response)

    async def presigned_get_url(self, blob_id: str, expires: timedelta) -> str:
        return await _call(self._client.presigned_get_object, self._bucket, self._key(blob_id), expires=expires)

    async def delete(self, blob_id: str) -> None:
        await _call(self._client.remove_object, self._bucket, self._key(blob_id))

    async def put_object(
        self, namespace: Namespace, name: str, data: bytes | bytearray, *, replace: bool = False, durable: bool = True
    ) -> bool:
        if not replace and await self.object_info(namespace, name) is not None:
            return False
        # One PUT of the bytes as they are, whatever the size: the minio client's put_object would copy them
        # into a part buffer (and a multipart upload would make the server write them twice).
        key = object_key(namespace, name)
        url = await _call(self._client.presigned_put_object, self._bucket, key, expires=_PUT_EXPIRY)
        await _call(self._send_put, url, data, len(data))
        return True

    async def get_object(
        self, namespace: Namespace, name: str, offset: int = 0, length: int | None = None
    ) -> bytes | None:
        key = object_key(namespace, name)
        try:
            response = await _call(self._client.get_object, self._bucket, key, offset=offset, length=length or 0)
        except S3Error as error:
            if error.code in _NOT_FOUND_CODES:
                return None
            raise
        try:
            return await _call(response.read)
        finally:
            _release(response)

    async def read_pieces(
        self, namespace: Namespace, name: str, offset: int, sizes: list[int]
    ) -> AsyncGenerator[bytes, None]:
        key = object_key(namespace, name)
        end = offset + sum(sizes)
        response: BaseHTTPResponse | None = None
        try:
            for size in sizes:
                try:
                    response = response or await self._open_range(key, offset, end)
                    piece = await _call(response.read, size)
                except Unavailable:
                    # The connection went (a server may close one that a slow reader left idle): once more, from here.
                    _release(response)
                    response = await self._open_range(key, offset, end)
                    piece = await _call(response.read, size)
                offset += size
                yield piece
        finally:
            _release(response)

    async def _open_range(self, key: str, offset: int, end: int) -> BaseHTTPResponse:
        try:
            return await _call(self._client.get_object, self._bucket, key, offset=offset, length=end - offset)
        except S3Error as error:
            if error.code in _NOT_FOUND_CODES:
                raise ObjectMissing(key) from None
            raise

    async def object_info(self, namespace: Namespace, name: str) -> ObjectInfo | None:
        try:
            info = await _call(self._client.stat_object, self._bucket, object_key(namespace, name))
        except S3Error as error:
            if error.code in _NOT_FOUND_CODES:
                return None
            raise
        return ObjectInfo(name, int(info.size), info.last_modified)

    async def touch_object(self, namespace: Namespace, name: str) -> None:
        """A copy onto itself with new metadata: S3's only way to move an object's modification time."""
        key = object_key(namespace, name)
        await _call(
            self._client.copy_object,
            self._bucket,
            key,
            CopySource(self._bucket, key),
            metadata={"x-amz-meta-touched": "1"},
            metadata_directive=REPLACE,
        )

    async def delete_object(self, namespace: Namespace, name: str) -> None:
        await _call(self._client.remove_object, self._bucket, object_key(namespace, name))

    async def list_objects(self, namespace: Namespace) -> AsyncIterator[ObjectInfo]:
        prefix = f"{require_namespace(namespace)}/"
        listing = self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
        async for item in iterate_in_thread(iter(listing)):
            name, size, modified_at = item.object_name, item.size, item.last_modified
            assert name is not None and size is not None and modified_at is not None, "a listed object has them"
            yield ObjectInfo(name.removeprefix(prefix), int(size), modified_at)

    async def check(self) -> None:
        if not await _call(self._client.bucket_exists, self._bucket):
            raise Unavailable(f"bucket {self._bucket!r} does not exist", reason="BUCKET_MISSING")


async def _pump(produce: Coroutine, upload: Coroutine, pipe: AsyncToSyncPipe) -> None:
    """Runs a producer feeding `pipe` and the blocking upload reading it; when either fails, so does the other."""
    upload_task = asyncio.ensure_future(upload)
    producer = asyncio.ensure_future(produce)
    try:
        # An upload that fails early must not leave the producer waiting on a full pipe.
        await asyncio.wait({producer, upload_task}, return_when=asyncio.FIRST_EXCEPTION)
        failure = upload_task.exception() if upload_task.done() else None
        if failure is not None:
            raise failure
        await producer
        await upload_task
    except BaseException as error:
        producer.cancel()
        if not upload_task.done():
            pipe.fail(error)
        await asyncio.gather(producer, upload_task, return_exceptions=True)
        raise


def _release(response: BaseHTTPResponse | None) -> None:
    if response is not None:
        response.close()
        response.release_conn()


async def _call(function, *args, **kwargs):
    """Runs a blocking client call in a worker thread; transport failures become UNAVAILABLE."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise Unavailable(f"object store unreachable: {error}", reason="OBJECT_STORE_UNAVAILABLE") from error
