"""How a read of a chunked blob gets its bytes: in runs of neighbouring chunks.

A run is a few parts that lie back to back in one pack; the runs that follow each other in a pack (a span) are
read in turn over one request (on S3 each request costs the client and the server about a millisecond of CPU,
docs/storage.md), and each run is decoded as soon as it has been read. A codec thread
decodes the run's chunks, a few at a time, into a buffer of its own (reused: no fresh pages to fault in,
no array per chunk) and copies out the bytes asked for as pieces of about READ_CHUNK_BYTES, the size
whole-file reads yield. A part kept inline (the header, a short tail) is a run of its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from beatflow_platform.objectstore import chunk_codec
from beatflow_platform.objectstore.base import READ_CHUNK_BYTES
from beatflow_platform.objectstore.manifest import ChunkPlace, Part

# At most this many decoded bytes per run, so that runs in flight (chunked.PARALLEL_RUNS) stay small however well
# their chunks compress: an 8 MiB pack of audio stored at 70% is three runs.
RUN_BYTES = 4 * 1024 * 1024
_scratch = threading.local()


@dataclass(frozen=True)
class Run:
    offset: int  # where its first part starts in the blob
    parts: tuple[Part, ...]

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def stored_span(self) -> ChunkPlace | None:
        """Where its chunks lie in their pack, all together (None for an inline part)."""
        first, last = self.parts[0].place, self.parts[-1].place
        if first is None or last is None:
            return None
        return ChunkPlace(first.pack, first.offset, last.offset + last.stored - first.offset)


@dataclass(frozen=True)
class Span:
    """Runs that lie back to back in one pack (`place`: where they all lie), read over one request; or one run of
    an inline part (`place` None)."""

    place: ChunkPlace | None
    runs: tuple[Run, ...]


class BadChunk(Exception):
    def __init__(self, chunk_id: str):
        self.chunk_id = chunk_id


def plan_runs(covering: list[tuple[int, Part]]) -> list[Run]:
    """The covering parts, in order, grouped into runs: neighbours in one pack, up to RUN_BYTES decoded."""
    runs: list[Run] = []
    offset, parts, size = 0, [], 0  # the run being grown: where it starts, its parts, their decoded size
    for part_offset, part in covering:
        if not (parts and _continues(parts[-1], part, size)):
            if parts:
                runs.append(Run(offset, tuple(parts)))
            offset, parts, size = part_offset, [], 0
        parts.append(part)
        size += part.size
    if parts:
        runs.append(Run(offset, tuple(parts)))
    return runs


def plan_spans(runs: list[Run]) -> list[Span]:
    """The runs, in order, grouped into spans: runs that follow each other in one pack."""
    spans: list[Span] = []
    for run in runs:
        place, last = run.stored_span, spans[-1].place if spans else None
        if place and last and place.pack == last.pack and place.offset == last.offset + last.stored:
            spans[-1] = Span(ChunkPlace(last.pack, last.offset, last.stored + place.stored), (*spans[-1].runs, run))
        else:
            spans.append(Span(place, (run,)))
    return spans


def _continues(previous: Part, part: Part, run_size: int) -> bool:
    """Whether `part` extends a run that ends with `previous` and holds `run_size` decoded bytes."""
    before, place = previous.place, part.place
    return (
        before is not None
        and place is not None
        and place.pack == before.pack
        and place.offset == before.offset + before.stored
        and run_size + part.size <= RUN_BYTES
    )


def decode_run(stored: bytes, run: Run, start: int, end: int, verify: bool) -> list[bytes]:
    """The bytes of [start, end) that `run` holds, from its stored span, in pieces of whole chunks, each up to
    READ_CHUNK_BYTES (or one chunk, if larger).

    zstd's checksums catch damage to compressed planes (BadChunk); with `verify` each chunk is also checked
    (Part.holds: its XXH3-128, or its id in parts written before that; here, while its bytes are still in this
    core's cache), which catches any damage. Only a full read through a manifest without a checksum skips
    that: the blob's own hash covers every byte there.
    """
    inline = run.parts[0].inline
    if inline is not None:
        return [inline[max(start - run.offset, 0) : end - run.offset]]
    span = run.stored_span
    assert span is not None, "a run of chunks has a stored span"
    out = _buffer(max(READ_CHUNK_BYTES, *(part.size for part in run.parts)))
    view = memoryview(stored)
    pieces: list[bytes] = []
    at, filled = run.offset, 0  # where the buffer's bytes start in the blob, and how many it holds
    for part in run.parts:
        assert part.place is not None and part.chunk_id is not None, "a run holds chunks only"
        if filled and filled + part.size > READ_CHUNK_BYTES:
            pieces += _cut(out[:filled], at, start, end)
            at, filled = at + filled, 0
        decoded = out[filled : filled + part.size]
        offset = part.place.offset - span.offset
        try:
            chunk_codec.decode_into(view[offset : offset + part.place.stored], decoded)
        except chunk_codec.CorruptChunk:
            raise BadChunk(part.chunk_id) from None
        if verify and not part.holds(decoded.data):
            raise BadChunk(part.chunk_id)
        filled += part.size
    return pieces + _cut(out[:filled], at, start, end)


def _cut(decoded: np.ndarray, at: int, start: int, end: int) -> list[bytes]:
    """The part of [start, end) in `decoded` (blob bytes from `at`), as bytes; none when they do not meet."""
    first, last = max(start - at, 0), min(end - at, len(decoded))
    return [decoded[first:last].tobytes()] if first < last else []


def _buffer(size: int) -> np.ndarray:
    """This thread's decoding buffer, at least `size` bytes (grown when a piece needs more, never shrunk)."""
    buffer: np.ndarray | None = getattr(_scratch, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _scratch.buffer = np.empty(size, np.uint8)
    return buffer[:size]
