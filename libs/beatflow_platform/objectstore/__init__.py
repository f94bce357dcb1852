"""Content-addressed blob storage: an S3 store (MinIO in production) and a local-filesystem store."""

from beatflow_platform.objectstore.base import (
    BlobCorrupted,
    BlobNotFound,
    ObjectStore,
    StoredBlob,
    is_blob_id,
)
from beatflow_platform.objectstore.factory import create_object_store

__all__ = ["BlobCorrupted", "BlobNotFound", "ObjectStore", "StoredBlob", "create_object_store", "is_blob_id"]
