"""Blobs in an S3 bucket (MinIO in production) through the `minio` client.

A streamed upload of unknown length goes to a temporary key as a multipart upload while it
is hashed; the finished object is then copied server-side to `blobs/<sha256>` and the
temporary key removed. Memory stays at about two multipart parts whatever the file size,
and no local disk is needed (pods run with a read-only root filesystem). Temporary keys
left by a crash expire through a bucket lifecycle rule.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, ComposeSource, Filter
from minio.error import S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from beatflow_platform.errors import Unavailable
from beatflow_platform.logging import get_logger
from beatflow_platform.objectstore.base import (
    READ_CHUNK_BYTES,
    BlobNotFound,
    ChecksumMismatch,
    StoredBlob,
    checked_range,
    require_blob_id,
    verified,
)
from beatflow_platform.objectstore.pipe import AsyncToSyncPipe, iterate_in_thread
from beatflow_platform.settings import ObjectStoreSettings

_log = get_logger("beatflow.objectstore.s3")
_TMP_PREFIX = "tmp/"
_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}


class S3ObjectStore:
    supports_presigned_urls = True

    def __init__(self, settings: ObjectStoreSettings, *, tmp_expiry_days: int = 1):
        self._bucket = settings.bucket
        self._part_size = settings.part_size_bytes
        self._tmp_expiry_days = tmp_expiry_days
        self._client = Minio(
            settings.endpoint,
            access_key=settings.access_key.get_secret_value(),
            secret_key=settings.secret_key.get_secret_value(),
            secure=settings.secure,
            region=settings.region,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=5, read=60),
                maxsize=16,
                retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            ),
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

    async def put(self, chunks: AsyncIterable[bytes], *, expected_sha256: str | None = None) -> StoredBlob:
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

        upload = asyncio.ensure_future(
            _call(
                self._client.put_object,
                self._bucket,
                tmp_key,
                pipe,
                length=-1,
                part_size=self._part_size,
                num_parallel_uploads=1,
            )
        )
        producer = asyncio.ensure_future(produce())
        try:
            # An upload that fails early must not leave the producer waiting on a full pipe.
            await asyncio.wait({producer, upload}, return_when=asyncio.FIRST_EXCEPTION)
            if upload.done() and upload.exception() is not None:
                raise upload.exception()
            await producer
            await upload
            blob_id = digest.hexdigest()
            if expected_sha256 is not None and expected_sha256 != blob_id:
                raise ChecksumMismatch(expected_sha256, blob_id)
            if not await self.exists(blob_id):
                await _call(
                    self._client.compose_object,
                    self._bucket,
                    self._key(blob_id),
                    [ComposeSource(self._bucket, tmp_key)],
                )
            return StoredBlob(blob_id, size)
        except BaseException as error:
            producer.cancel()
            if not upload.done():
                pipe.fail(error)
            await asyncio.gather(producer, upload, return_exceptions=True)
            raise
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

    async def read(self, blob_id: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        blob = await self.stat(blob_id)
        start, count = checked_range(blob, offset, length)
        if count == 0:
            return
        response = await _call(self._client.get_object, self._bucket, self._key(blob_id), offset=start, length=count)
        try:
            chunks = iterate_in_thread(response.stream(READ_CHUNK_BYTES))
            if start == 0 and count == blob.size:
                chunks = verified(blob_id, chunks)
            async for chunk in chunks:
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def presigned_get_url(self, blob_id: str, expires: timedelta) -> str:
        return await _call(self._client.presigned_get_object, self._bucket, self._key(blob_id), expires=expires)

    async def delete(self, blob_id: str) -> None:
        await _call(self._client.remove_object, self._bucket, self._key(blob_id))

    async def check(self) -> None:
        if not await _call(self._client.bucket_exists, self._bucket):
            raise Unavailable(f"bucket {self._bucket!r} does not exist", reason="BUCKET_MISSING")


async def _call(function, *args, **kwargs):
    """Runs a blocking client call in a worker thread; transport failures become UNAVAILABLE."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise Unavailable(f"object store unreachable: {error}", reason="OBJECT_STORE_UNAVAILABLE") from error
