"""Chunks as the chunked store wrote them before its current codec, for tests that read them back and for the
storage bench's side-by-side figures (each a drop-in for `chunk_codec.encode`)."""

from __future__ import annotations

import struct

import numpy as np
import zstandard


def earliest_encode(data: bytes, sample_bytes: int) -> bytes:
    """Before raw planes: tag 0, one zstd frame; tag 1, k planes, k u32 sizes, k zstd frames."""
    compressor = zstandard.ZstdCompressor(level=3, write_checksum=True)
    if sample_bytes < 2 or len(data) % sample_bytes:
        return b"\0" + compressor.compress(data)
    samples = np.frombuffer(data, np.uint8).reshape(-1, sample_bytes)
    frames = [compressor.compress(samples[:, plane].tobytes()) for plane in range(sample_bytes)]
    return b"".join([bytes([1, sample_bytes]), struct.pack(f"<{sample_bytes}I", *map(len, frames)), *frames])


def byte_planes_encode(data: bytes, sample_bytes: int | None) -> bytes:
    """Before Blosc2: tag 2, k planes of samples (one of other bytes; FLAC frames, `sample_bytes` None, one raw
    plane), each zstd (0) unless that saves less than an eighth, then raw (1)."""
    compressor = zstandard.ZstdCompressor(level=3, write_checksum=True)
    count = 1 if sample_bytes is None or sample_bytes < 2 or len(data) % sample_bytes else sample_bytes
    samples = np.frombuffer(data, np.uint8).reshape(-1, count)
    planes = [samples[:, plane].tobytes() for plane in range(count)]
    stored = [
        (1, plane)
        if sample_bytes is None or len(frame := compressor.compress(plane)) > 7 / 8 * len(plane)
        else (0, frame)
        for plane in planes
    ]
    methods = bytes(method for method, _ in stored)
    sizes = struct.pack(f"<{count}I", *(len(payload) for _, payload in stored))
    return b"".join([bytes([2, count]), methods, sizes, *(payload for _, payload in stored)])
