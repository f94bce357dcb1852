"""How a chunk's bytes are stored: samples bit-shuffled and LZ4-compressed (Blosc2), other bytes by zstd or raw.

Samples are stored as one Blosc2 chunk: bit-shuffled (every sample's top bit, then every second bit, ...: an
audio sample's high bits change slowly, so its top bit planes are long runs) and compressed with LZ4. This
is the byte grouping plus LZ4 that Hugging Face's Xet store uses for model weights, at the bit level: on the
bench's 42 MB take it stores the take in 78 % of its size and decodes at about 3.5 GB/s (12 ms), where the
byte planes with zstd that came before it stored 70 % and decoded at about 1 GB/s (45 ms, the high plane's
entropy decoding); reads of chunked audio were bound by that decoding (docs/storage.md). LZ4 has no checksum of
its own: every read checks each chunk's XXH3-128 (manifest.Part.holds), or the blob's hash.

A stored chunk starts with a tag byte:

- 3 (samples, written now): one Blosc2 chunk (LZ4, bit-shuffled in units of the sample's bytes), checked
  against the chunk's size before it is decoded.
- 2 (other bytes now; samples before): the number of planes k, k bytes saying how each plane is stored (0:
  one zstd frame, 1: raw), k little-endian u32 stored sizes, then the k planes. Bytes that are not whole
  samples (what follows the samples) are one plane; so are FLAC frames, kept raw (they are compressed already),
  and samples that Blosc2 shrinks by less than an eighth. Samples stored as k byte planes were written before
  tag 3 and still decode.
- 0 (older chunks): one zstd frame of the bytes.
- 1 (older chunks): the number of planes k, k little-endian u32 sizes, then k zstd frames.

zstd frames carry zstd's content checksum, so damage to them is caught while decoding; damage to a
raw plane or to a Blosc2 chunk's payload is caught by the checksum a read checks of each chunk it decodes
(manifest.Part.holds), or by the blob's hash on a full read through a manifest written before manifests had
checksums.
"""

from __future__ import annotations

import struct
import threading
from typing import cast

import blosc2
import numpy as np
import zstandard

# What the manifests written now say of their chunks' encodings (each chunk says its own by its tag byte).
NAME = "bitshuffle-lz4+zstd-byte-planes"
_LEVEL = 3
# LZ4's effort: 9 stored the bench's take in 78.2 % of its size, 5 in 79.1 %, at the same decoding speed.
_LZ4_LEVEL = 9
# A plane or a chunk of samples is stored raw unless it shrinks below this share of its size.
_COMPRESSED_AT_MOST = 7 / 8
_WHOLE, _PLANES, _MIXED_PLANES, _BITSHUFFLED = 0, 1, 2, 3
_ZSTD, _RAW = 0, 1
_codecs = threading.local()
# Blosc2 keeps the GIL by default: released, two codec threads decode at once and the event loop runs meanwhile.
blosc2.set_releasegil(True)


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
    already compressed, as FLAC frames are, so kept as they are: one raw plane, without trying to compress)."""
    if sample_bytes is None:
        return _planes([(_RAW, bytes(data))])
    if sample_bytes < 2 or len(data) % sample_bytes:
        return _planes([_stored_plane(data)])
    parameters = {
        "typesize": sample_bytes,
        "codec": blosc2.Codec.LZ4,
        "filters": [blosc2.Filter.BITSHUFFLE],
        "clevel": _LZ4_LEVEL,
        "nthreads": 1,  # the codec threads are the parallelism (threads.py)
    }
    shuffled = cast(bytes, blosc2.compress2(data, cparams=parameters))
    if len(shuffled) <= len(data) * _COMPRESSED_AT_MOST:
        return bytes([_BITSHUFFLED]) + shuffled
    return _planes([(_RAW, bytes(data))])


def _planes(stored: list[tuple[int, bytes]]) -> bytes:
    """A tag-2 chunk of `stored` planes: (how each is kept, its bytes)."""
    methods = bytes(method for method, _ in stored)
    payloads = [payload for _, payload in stored]
    sizes = struct.pack(f"<{len(stored)}I", *map(len, payloads))
    return b"".join([bytes([_MIXED_PLANES, len(stored)]), methods, sizes, *payloads])


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
        if tag == _BITSHUFFLED:
            _unshuffled_into(stored[1:], out)
            return
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


def _unshuffled_into(chunk: memoryview, out: np.ndarray) -> None:
    """Decodes a Blosc2 chunk into `out`, once its header says it holds exactly `out`'s bytes in all of `chunk`."""
    try:
        decoded_bytes, chunk_bytes, _ = blosc2.get_cbuffer_sizes(chunk)
        if (decoded_bytes, chunk_bytes) != (len(out), len(chunk)):
            raise CorruptChunk(
                f"a Blosc2 chunk of {chunk_bytes} bytes holding {decoded_bytes}, stored in {len(chunk)} for {len(out)}"
            )
        blosc2.decompress2(chunk, dst=out, dparams={"nthreads": 1})
    except (RuntimeError, ValueError, TypeError) as error:
        raise CorruptChunk(str(error)) from None


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
