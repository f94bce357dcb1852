"""How a chunk's bytes are stored: byte planes, each compressed with zstd or kept raw.

A sample's high byte changes slowly and its low byte is mostly noise, so zstd over the interleaved
bytes finds little; split into planes (every sample's first byte, then every second byte, ...), the
high plane compresses to about 40% and the low plane not at all. On FluidSynth renders with a noise
floor this stores a take in 70% of its size, against 90% for zstd over the interleaved bytes. A plane
that zstd shrinks by less than an eighth is kept raw: it costs no decoding, and a full read's speed is
bounded by decoding (the high plane's entropy decoding, about 1.2 GB/s per core, is the rest).

A stored chunk starts with a tag byte:

- 2 (written now): the number of planes k, k bytes saying how each plane is stored (0: one zstd frame,
  1: raw), k little-endian u32 stored sizes, then the k planes. Bytes that are not whole samples
  (what follows the samples) are one plane; so are FLAC frames, kept raw (they are compressed already).
- 0 (older chunks): one zstd frame of the bytes.
- 1 (older chunks): the number of planes k, k little-endian u32 sizes, then k zstd frames.

zstd frames carry zstd's content checksum, so damage to them is caught while decoding; damage to a
raw plane is caught by the checksum a read checks of each chunk it decodes (manifest.Part.holds), or by
the blob's hash on a full read through a manifest written before manifests had checksums.
"""

from __future__ import annotations

import struct
import threading

import numpy as np
import zstandard

NAME = "zstd-byte-planes"
_LEVEL = 3
# A plane is stored raw unless zstd shrinks it below this share of its size.
_COMPRESSED_AT_MOST = 7 / 8
_WHOLE, _PLANES, _MIXED_PLANES = 0, 1, 2
_ZSTD, _RAW = 0, 1
_codecs = threading.local()


class CorruptChunk(Exception):
    """The stored bytes do not decode."""


def _compressor() -> zstandard.ZstdCompressor:
    if not hasattr(_codecs, "compressor"):
        _codecs.compressor = zstandard.ZstdCompressor(level=_LEVEL, write_checksum=True)
    return _codecs.compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_codecs, "decompressor"):
        _codecs.decompressor = zstandard.ZstdDecompressor()
    return _codecs.decompressor


def encode(data: bytes, sample_bytes: int | None) -> bytes:
    """The stored form of a chunk whose bytes are samples of `sample_bytes` bytes (1: not samples; None:
    already compressed, as FLAC frames are, so kept as they are: one raw plane, without trying zstd)."""
    planes = 1 if sample_bytes is None or sample_bytes < 2 or len(data) % sample_bytes else sample_bytes
    if sample_bytes is None:
        stored = [(_RAW, bytes(data))]
    elif planes == 1:
        stored = [_stored_plane(data)]
    else:
        samples = np.frombuffer(data, np.uint8).reshape(-1, planes)
        stored = [_stored_plane(np.ascontiguousarray(samples[:, plane])) for plane in range(planes)]
    methods = bytes(method for method, _ in stored)
    payloads = [payload for _, payload in stored]
    sizes = struct.pack(f"<{planes}I", *map(len, payloads))
    return b"".join([bytes([_MIXED_PLANES, planes]), methods, sizes, *payloads])


def _stored_plane(plane) -> tuple[int, bytes]:
    frame = _compressor().compress(plane)
    if len(frame) <= len(plane) * _COMPRESSED_AT_MOST:
        return _ZSTD, frame
    return _RAW, bytes(plane)


def decode_into(stored: memoryview, out: np.ndarray) -> None:
    """Writes a chunk's bytes, decoded from its stored form, into `out` (uint8, exactly as long as the chunk);
    raises CorruptChunk. Writing into a buffer the caller reuses spares an allocation and a copy per chunk."""
    try:
        tag = stored[0]
        if tag == _MIXED_PLANES:
            planes = _mixed_planes(stored)
        elif tag == _WHOLE:
            planes = [_zstd_plane(stored[1:])]
        elif tag == _PLANES:
            planes = _zstd_planes(stored)
        else:
            raise CorruptChunk(f"unknown chunk encoding {tag}")
    except (zstandard.ZstdError, struct.error, IndexError, ValueError) as error:
        raise CorruptChunk(str(error)) from None
    _interleave(planes, out)


def _zstd_plane(frame: memoryview) -> np.ndarray:
    return np.frombuffer(_decompressor().decompress(frame), np.uint8)


def _mixed_planes(stored: memoryview) -> list[np.ndarray]:
    count = stored[1]
    methods = stored[2 : 2 + count]
    sizes = struct.unpack_from(f"<{count}I", stored, 2 + count)
    position = 2 + 5 * count
    if count == 0 or position + sum(sizes) != len(stored):
        raise CorruptChunk("the plane sizes do not add up to the stored size")
    planes = []
    for method, size in zip(methods, sizes, strict=True):
        payload = stored[position : position + size]
        if method == _ZSTD:
            planes.append(_zstd_plane(payload))
        elif method == _RAW:
            planes.append(np.frombuffer(payload, np.uint8))
        else:
            raise CorruptChunk(f"unknown plane encoding {method}")
        position += size
    return planes


def _zstd_planes(stored: memoryview) -> list[np.ndarray]:
    count = stored[1]
    sizes = struct.unpack_from(f"<{count}I", stored, 2)
    position = 2 + 4 * count
    planes = []
    for size in sizes:
        planes.append(_zstd_plane(stored[position : position + size]))
        position += size
    return planes


def _interleave(planes: list[np.ndarray], out: np.ndarray) -> None:
    """Writes the samples whose byte i is planes[i] into `out`: as little-endian words (wide, contiguous writes,
    about three times faster than writing each plane with a stride) where a sample fills a word exactly."""
    count = len(out) // len(planes)
    if any(len(plane) != count for plane in planes) or count * len(planes) != len(out):
        raise CorruptChunk("the planes do not add up to the chunk's size")
    if len(planes) == 1:
        out[:] = planes[0]
    elif len(planes) in (2, 4, 8):
        words = out.view(f"<u{len(planes)}")
        np.left_shift(planes[-1], 8, out=words, dtype=words.dtype)
        for plane in reversed(planes[1:-1]):
            words |= plane
            words <<= 8
        words |= planes[0]
    else:
        samples = out.reshape(count, len(planes))
        for index, plane in enumerate(planes):
            samples[:, index] = plane
