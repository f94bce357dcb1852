"""Reading a blob as audio with the service's limits: probed before it is decoded."""

from __future__ import annotations

import io

import numpy as np

from beatflow_audio import codec, probe
from beatflow_platform.blob_client import BlobClient
from beatflow_platform.errors import InvalidArgument
from beatflow_platform.objectstore import is_blob_id


async def read_audio(
    blobs: BlobClient, blob_id: str, *, owner_id: str, max_bytes: int, max_seconds: float, field: str = "blob_id"
) -> tuple[np.ndarray, int, probe.AudioDescription]:
    """Downloads as `owner_id` and decodes; refuses non-audio and audio longer than `max_seconds`."""
    if not is_blob_id(blob_id):
        raise InvalidArgument.for_field(field, "must be the blob id of an uploaded file")
    data = await blobs.download(blob_id, owner_id=owner_id, max_bytes=max_bytes)
    description = probe.describe(io.BytesIO(data), max_seconds=max_seconds)
    samples, rate = codec.decode(data)
    return samples, rate, description
