"""Builds the configured object store."""

from __future__ import annotations

from beatflow_platform.objectstore.base import ObjectStore
from beatflow_platform.objectstore.filesystem import FilesystemObjectStore
from beatflow_platform.objectstore.s3 import S3ObjectStore
from beatflow_platform.settings import ObjectStoreSettings


async def create_object_store(settings: ObjectStoreSettings) -> ObjectStore:
    if settings.kind == "s3":
        store = S3ObjectStore(settings)
        await store.ensure_bucket()
        return store
    return FilesystemObjectStore(settings.root)
