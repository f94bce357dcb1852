"""Builds the configured object store."""

from __future__ import annotations

from beatflow_platform.objectstore.base import ObjectStore
from beatflow_platform.objectstore.chunked import ChunkedAudioStore
from beatflow_platform.objectstore.filesystem import FilesystemObjectStore
from beatflow_platform.objectstore.s3 import S3ObjectStore
from beatflow_platform.settings import ObjectStoreSettings


async def create_object_store(settings: ObjectStoreSettings) -> ObjectStore:
    if settings.kind == "s3":
        store = S3ObjectStore(settings)
        await store.ensure_bucket()
    else:
        store = FilesystemObjectStore(settings.root)
    if settings.chunk_lossless_audio:
        return ChunkedAudioStore(store, chunk_bytes=settings.chunk_bytes)
    return store
