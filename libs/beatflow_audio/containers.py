"""What container headers promise, for telling a complete file from a truncated one.

libsndfile quietly shortens a WAV or AIFF whose sample data ends early, and decodes an Ogg
stream up to wherever its last page stops; only the headers say how much there should be.
Each check reads a few header bytes through the open handle and returns the reason the file
is incomplete, or None.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

# Sizes writers put in a header when they could not seek back to fill in the real one
# (ffmpeg and sox writing to a pipe): the length is unknown, not wrong.
_UNKNOWN_CHUNK_SIZES = (0, 0xFFFFFFFF, 0x7FFFF000)
_MAX_CHUNKS = 1000  # real files have a dozen; a crafted one could make this walk slow
_OGG_TAIL_BYTES = 70_000  # more than one Ogg page (at most 65,307 bytes)
_OGG_END_OF_STREAM = 0x04
_MP3_HEADER_BYTES = 4096  # the first MPEG frame, past any ID3v2 tag, holds its Xing/Info/VBRI header


def _size(handle: BinaryIO) -> int:
    return handle.seek(0, os.SEEK_END)


def _chunk_shortfall(handle: BinaryIO, *, first_chunk: int, sample_chunk: bytes, size_format: str) -> str | None:
    """Walks RIFF/IFF chunks from `first_chunk`; the sample chunk must hold the bytes it declares."""
    total = _size(handle)
    offset = first_chunk
    for _ in range(_MAX_CHUNKS):
        if offset + 8 > total:
            break
        handle.seek(offset)
        chunk_id, size = struct.unpack(size_format, handle.read(8))
        if chunk_id == sample_chunk:
            present = total - offset - 8
            if size not in _UNKNOWN_CHUNK_SIZES and present < size:
                return f"the {sample_chunk.decode().strip()!r} chunk declares {size} bytes; {present} are present"
            return None
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    return None


def _riff_shortfall(handle: BinaryIO) -> str | None:
    return _chunk_shortfall(handle, first_chunk=12, sample_chunk=b"data", size_format="<4sI")


def _aiff_shortfall(handle: BinaryIO) -> str | None:
    return _chunk_shortfall(handle, first_chunk=12, sample_chunk=b"SSND", size_format=">4sI")


def _ogg_shortfall(handle: BinaryIO) -> str | None:
    """The last page must be whole and mark the end of the stream."""
    total = _size(handle)
    start = max(0, total - _OGG_TAIL_BYTES)
    handle.seek(start)
    tail = handle.read()
    page = tail.rfind(b"OggS")
    if page < 0 or len(tail) - page < 27:
        return "the last Ogg page is cut short"
    header_type, segment_count = tail[page + 5], tail[page + 26]
    segments = tail[page + 27 : page + 27 + segment_count]
    if len(segments) < segment_count or page + 27 + segment_count + sum(segments) != len(tail):
        return "the last Ogg page is cut short"
    if not header_type & _OGG_END_OF_STREAM:
        return "the Ogg stream ends without its end-of-stream page"
    return None


def mp3_declares_length(handle: BinaryIO) -> bool:
    """Whether the first frame carries a Xing, Info or VBRI header (an exact frame count).

    Without one, libsndfile estimates the length from the bit rate, so a shorter decode proves nothing.
    """
    handle.seek(0)
    head = handle.read(10)
    skip = 0
    if head[:3] == b"ID3" and len(head) == 10:
        skip = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F))
    handle.seek(skip)
    first_frame = handle.read(_MP3_HEADER_BYTES)
    return any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


_CHECKS = {"WAV": _riff_shortfall, "WAVEX": _riff_shortfall, "AIFF": _aiff_shortfall, "OGG": _ogg_shortfall}


def shortfall(handle: BinaryIO, sndfile_format: str) -> str | None:
    """Why the file holds less than its container declares (None when complete or not checkable)."""
    check = _CHECKS.get(sndfile_format)
    return check(handle) if check else None
