"""Blobs as files under a local directory: the embedded default for `make run` and single hosts.

Writes go to a temporary file in the same filesystem, are fsynced, then renamed into place:
each byte is written once, and a crash never leaves a partial blob under its final name.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from beatflow_platform.errors import Unimplemented
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


class FilesystemObjectStore:
    supports_presigned_urls = False

    def __init__(self, root: Path):
        self._root = Path(root)
        self._blobs = self._root / "blobs"
        self._tmp = self._root / "tmp"
        for directory in (self._blobs, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)

    def _path(self, blob_id: str) -> Path:
        require_blob_id(blob_id)
        return self._blobs / blob_id[:2] / blob_id[2:4] / blob_id

    def _object_path(self, namespace: Namespace, name: str) -> Path:
        object_key(namespace, name)
        return self._root / namespace / name[:2] / name[2:4] / name

    async def put(
        self, chunks: AsyncIterable[bytes], *, expected_sha256: str | None = None, size: int | None = None
    ) -> StoredBlob:
        if expected_sha256 is not None and await self.exists(expected_sha256):
            return StoredBlob(expected_sha256, await drain_verified(chunks, expected_sha256))
        tmp_path = self._tmp / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        written = 0
        handle = await asyncio.to_thread(open, tmp_path, "xb")
        try:
            async for chunk in chunks:
                digest.update(chunk)
                written += len(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_flush_and_sync, handle)
            handle.close()
            blob_id = digest.hexdigest()
            if size is not None and size != written:
                raise SizeMismatch(size, written)
            if expected_sha256 is not None and expected_sha256 != blob_id:
                raise ChecksumMismatch(expected_sha256, blob_id)
            created = await asyncio.to_thread(self._publish, tmp_path, self._path(blob_id))
            return StoredBlob(blob_id, written, created)
        finally:
            handle.close()
            tmp_path.unlink(missing_ok=True)

    @staticmethod
    def _publish(tmp_path: Path, final_path: Path) -> bool:
        """Renames the written file into place (a rename, not a copy); False when the blob was already there."""
        if final_path.exists():
            return False
        final_path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_path, final_path)
        directory = os.open(final_path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True

    async def stat(self, blob_id: str) -> StoredBlob:
        try:
            size = (await asyncio.to_thread(self._path(blob_id).stat)).st_size
        except FileNotFoundError:
            raise BlobNotFound(blob_id) from None
        return StoredBlob(blob_id, size)

    async def exists(self, blob_id: str) -> bool:
        return await asyncio.to_thread(self._path(blob_id).is_file)

    async def read(self, blob_id: str, offset: int = 0, length: int | None = None) -> AsyncGenerator[bytes, None]:
        blob = await self.stat(blob_id)
        start, count = checked_range(blob, offset, length)
        chunks = self._read_file(self._path(blob_id), start, count)
        if start == 0 and count == blob.size:
            chunks = verified(blob_id, chunks)
        async with aclosing(chunks):
            async for chunk in chunks:
                yield chunk

    @staticmethod
    async def _read_file(path: Path, start: int, count: int) -> AsyncGenerator[bytes, None]:
        handle = await asyncio.to_thread(open, path, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            while count > 0:
                chunk = await asyncio.to_thread(handle.read, min(READ_CHUNK_BYTES, count))
                if not chunk:
                    break
                count -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def presigned_get_url(self, blob_id: str, expires: timedelta) -> str:
        raise Unimplemented(
            "the filesystem object store has no presigned URLs; download through the API",
            reason="PRESIGNED_URLS_UNSUPPORTED",
        )

    async def delete(self, blob_id: str) -> None:
        await asyncio.to_thread(self._path(blob_id).unlink, missing_ok=True)

    async def put_object(
        self, namespace: Namespace, name: str, data: bytes | bytearray, *, replace: bool = False, durable: bool = True
    ) -> bool:
        path = self._object_path(namespace, name)
        if not replace and await asyncio.to_thread(path.exists):
            return False
        tmp_path = self._tmp / f"{uuid.uuid4().hex}.part"
        try:
            await asyncio.to_thread(_write_file, tmp_path, data, durable)
            if replace:
                await asyncio.to_thread(_replace, tmp_path, path)
                return True
            return await asyncio.to_thread(self._publish, tmp_path, path)
        finally:
            tmp_path.unlink(missing_ok=True)

    async def get_object(
        self, namespace: Namespace, name: str, offset: int = 0, length: int | None = None
    ) -> bytes | None:
        try:
            return await asyncio.to_thread(_read_range, self._object_path(namespace, name), offset, length)
        except FileNotFoundError:
            return None

    async def read_pieces(
        self, namespace: Namespace, name: str, offset: int, sizes: list[int]
    ) -> AsyncGenerator[bytes, None]:
        try:
            descriptor = await asyncio.to_thread(os.open, self._object_path(namespace, name), os.O_RDONLY)
        except FileNotFoundError:
            raise ObjectMissing(f"{namespace}/{name}") from None
        try:
            for size in sizes:
                yield await asyncio.to_thread(os.pread, descriptor, size, offset)
                offset += size
        finally:
            os.close(descriptor)

    async def object_info(self, namespace: Namespace, name: str) -> ObjectInfo | None:
        try:
            status = await asyncio.to_thread(self._object_path(namespace, name).stat)
        except FileNotFoundError:
            return None
        return _info(name, status)

    async def touch_object(self, namespace: Namespace, name: str) -> None:
        await asyncio.to_thread(os.utime, self._object_path(namespace, name))

    async def delete_object(self, namespace: Namespace, name: str) -> None:
        await asyncio.to_thread(self._object_path(namespace, name).unlink, missing_ok=True)

    async def list_objects(self, namespace: Namespace) -> AsyncIterator[ObjectInfo]:
        top = self._root / require_namespace(namespace)
        for folder in await asyncio.to_thread(_fanout_folders, top):
            for info in await asyncio.to_thread(_files_in, folder):
                yield info

    async def check(self) -> None:
        probe = self._tmp / f".probe-{uuid.uuid4().hex}"
        await asyncio.to_thread(probe.write_bytes, b"")
        await asyncio.to_thread(probe.unlink)


def _fanout_folders(top: Path) -> list[Path]:
    """The `ab/cd` folders under a namespace, in order."""
    return sorted(path for path in top.glob("*/*") if path.is_dir())


def _files_in(folder: Path) -> list[ObjectInfo]:
    return [_info(entry.name, entry.stat()) for entry in os.scandir(folder) if entry.is_file()]


def _info(name: str, status: os.stat_result) -> ObjectInfo:
    return ObjectInfo(name, status.st_size, datetime.fromtimestamp(status.st_mtime, UTC))


def _read_range(path: Path, offset: int, length: int | None) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(-1 if length is None else length)


def _replace(tmp_path: Path, final_path: Path) -> None:
    final_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp_path, final_path)


def _write_file(path: Path, data: bytes | bytearray, durable: bool) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        if durable:
            _flush_and_sync(handle)


def _flush_and_sync(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())
