"""Content-defined chunks of an audio stream, their borders on whole frames.

Borders come from FastCDC 2020 (a gear rolling hash with normalised chunking; PyPI `pyfastcdc`, a
Cython build that cuts at a few GB/s), so an edit moves only the borders near it: the chunks before
and after it come out the same and are stored once. Each border is then moved back to the start of
its frame (`PcmFrames`: a sample frame of a WAV or AIFF; `FlacFrames`: a coded FLAC frame), so a chunk
never splits a frame, and the same audio gives the same chunks wherever it lies in the file.
"""

from __future__ import annotations

from typing import Protocol

import pyfastcdc

from beatflow_platform.objectstore import flac_frames

# How much stream is cut at once: borders found near its end wait for more bytes.
WINDOW_BYTES = 2 * 1024 * 1024


class Frames(Protocol):
    def border(self, buffer: bytearray, previous: int, end: int) -> int:
        """Where to end a chunk that FastCDC ends at `end` (positions in `buffer`, which holds at least 16
        bytes past `end` unless the region ends there); at most `end`, and only a border past `previous` is
        kept."""
        ...


class PcmFrames:
    """Sample frames of `frame_bytes` bytes (all channels of one instant) from the region's start."""

    def __init__(self, frame_bytes: int = 1):
        self._frame_bytes = frame_bytes

    def border(self, buffer: bytearray, previous: int, end: int) -> int:
        return end - end % self._frame_bytes


class FlacFrames:
    """Coded FLAC frames: a border moves back to the last frame header after the previous border (where
    there is none, as in a frame longer than a chunk, it stays)."""

    def border(self, buffer: bytearray, previous: int, end: int) -> int:
        start = flac_frames.last_frame_start(buffer, previous + 1, end)
        return end if start is None else start


class FrameChunker:
    """Cuts one region of a stream (the samples, or what follows them) as it is fed."""

    def __init__(self, target_bytes: int, frames: Frames | None = None):
        # FastCDC's chunks average its `avg_size` plus `min_size`. Normalisation level 1 (fastcdc-rs's
        # default): on rendered stems, borders fell back in step within a chunk of an edit's end, where
        # level 2 took about six (measured with the takes of bench/storage.py).
        self._cdc = pyfastcdc.FastCDC(
            target_bytes * 4 // 5,
            min_size=target_bytes // 5,
            max_size=target_bytes * 4,
            normalized_chunking=1,
        )
        self._frames = frames or PcmFrames()
        self._buffer = bytearray()
        self._base = 0  # stream position of the buffer's first byte: the last border given out
        self._scan = 0  # where FastCDC's current chunk began (at or past `_base`, which may be a frame behind)

    def feed(self, data: bytes) -> list[bytes]:
        """The chunks that `data` completes (usually none; a few when the window fills)."""
        self._buffer += data
        if len(self._buffer) < WINDOW_BYTES:
            return []
        return self._cut(final=False)

    def finish(self) -> list[bytes]:
        """The remaining chunks; the last one ends the region wherever it ends."""
        return self._cut(final=True) if self._buffer else []

    def _cut(self, *, final: bool) -> list[bytes]:
        with memoryview(self._buffer) as view:
            ends = [self._scan + c.offset + c.length for c in self._cdc.cut_buf(view[self._scan - self._base :])]
        if not final:
            ends.pop()  # the last chunk may only end because the buffer does
        borders: list[int] = []
        for end in ends:
            previous = borders[-1] if borders else self._base
            if final and end == ends[-1]:
                border = end
            else:  # in buffer positions: the buffer starts at a border, so on a frame as the region does
                border = self._base + self._frames.border(self._buffer, previous - self._base, end - self._base)
            if border > previous:
                borders.append(border)
        if ends:
            self._scan = ends[-1]
        chunks = []
        start = self._base
        for border in borders:
            chunks.append(bytes(self._buffer[start - self._base : border - self._base]))
            start = border
        del self._buffer[: start - self._base]
        self._base = start
        return chunks
