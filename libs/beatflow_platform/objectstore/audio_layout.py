"""Where the samples lie in a lossless audio file: WAV (RIFF and RF64, WAVE_FORMAT_EXTENSIBLE included),
AIFF/AIFC, and the coded frames of a native FLAC stream, read from the first bytes of an upload.

Only the chunking's efficiency depends on this reading: whatever it says, every byte of the file is
stored and given back as it came, so an odd or lying header costs dedup, never correctness.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# A header longer than this (metadata chunks before the samples) is not worth chunking around.
MAX_HEADER_BYTES = 256 * 1024


# A FLAC stream whose STREAMINFO does not know its length: its frames run to the end of the file.
_UNTIL_THE_END = 1 << 62


@dataclass(frozen=True)
class SampleLayout:
    container: str  # "wav", "aiff" or "flac"
    data_start: int  # offset of the first sample frame (FLAC: of the first coded frame)
    # bytes of sample frames as the header announces them (may overrun the file; FLAC: the decoded size,
    # which bounds the coded frames' size in all but pathological streams)
    data_bytes: int
    frame_bytes: int  # bytes per frame (all channels of one sample instant), decoded
    sample_bytes: int  # bytes per sample of one channel (1 when the header does not say)

    @property
    def coded(self) -> bool:
        """Whether the samples are already compressed (FLAC frames): chunks then keep them as they are."""
        return self.container == "flac"


def sample_layout(head: bytes) -> SampleLayout | None:
    """The layout of a WAV or AIFF file whose first bytes are `head`; None for anything else (FLAC, lossy
    formats, other data) or when the samples do not start within `head`."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return _wav(head)
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _aiff(head)
    if head[:4] == b"fLaC":
        return _flac(head)
    return None


def _chunks(head: bytes, byte_order: str):
    """(id, body offset, body size) of each chunk after the 12-byte form header, while within `head`."""
    position = 12
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        (size,) = struct.unpack(f"{byte_order}I", head[position + 4 : position + 8])
        yield chunk_id, position + 8, size
        position += 8 + size + (size & 1)  # chunks are padded to an even size


def _wav(head: bytes) -> SampleLayout | None:
    frame_bytes = bits = 0
    for chunk_id, body, size in _chunks(head, "<"):
        if chunk_id == b"fmt " and body + 16 <= len(head):
            frame_bytes, bits = struct.unpack("<HH", head[body + 12 : body + 16])  # nBlockAlign, wBitsPerSample
        elif chunk_id == b"data":
            return _layout("wav", body, size, frame_bytes, (bits + 7) // 8)
    return None


def _aiff(head: bytes) -> SampleLayout | None:
    frame_bytes = bits = 0
    for chunk_id, body, size in _chunks(head, ">"):
        if chunk_id == b"COMM" and body + 8 <= len(head):
            channels, _, bits = struct.unpack(">HIH", head[body : body + 8])
            frame_bytes = channels * ((bits + 7) // 8)
        elif chunk_id == b"SSND" and body + 8 <= len(head):
            offset, _ = struct.unpack(">II", head[body : body + 8])
            return _layout("aiff", body + 8 + offset, size - 8 - offset, frame_bytes, (bits + 7) // 8)
    return None


def _flac(head: bytes) -> SampleLayout | None:
    """The metadata blocks (STREAMINFO first, then any others up to the one flagged last) precede the frames."""
    position, frame_bytes, data_bytes = 4, 0, _UNTIL_THE_END
    while position + 4 <= len(head):
        block_type, last = head[position] & 0x7F, head[position] & 0x80
        (size,) = struct.unpack(">I", b"\0" + head[position + 1 : position + 4])
        body = position + 4
        if block_type == 0 and body + 18 <= len(head):  # STREAMINFO: rate 20 bits, channels 3, bits 5, samples 36
            (packed,) = struct.unpack(">Q", head[body + 10 : body + 18])
            channels, bits, samples = (packed >> 41 & 0x7) + 1, (packed >> 36 & 0x1F) + 1, packed & (1 << 36) - 1
            frame_bytes = channels * ((bits + 7) // 8)
            data_bytes = samples * frame_bytes or _UNTIL_THE_END
        position = body + size
        if last:
            return _layout("flac", position, data_bytes, frame_bytes, 1) if position <= len(head) else None
    return None


def _layout(
    container: str, data_start: int, data_bytes: int, frame_bytes: int, sample_bytes: int
) -> SampleLayout | None:
    if frame_bytes <= 0 or data_bytes <= 0 or data_start > MAX_HEADER_BYTES:
        return None
    if sample_bytes <= 0 or frame_bytes % sample_bytes:
        sample_bytes = 1
    return SampleLayout(container, data_start, data_bytes, frame_bytes, sample_bytes)


def may_hold_samples(head: bytes | bytearray) -> bool:
    """Whether more of the file could still reveal a layout (the first 12 bytes name WAV or AIFF, or the first
    4 FLAC)."""
    return (
        len(head) < 12
        or head[:4] == b"fLaC"
        or (head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE")
        or (head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"))
    )
