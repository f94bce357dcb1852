"""How fast the machine runs a fixed workload now, recorded beside the timed figures.

The bench machine is a VM whose speed moves with its neighbours: on 2 December, within an hour and with nothing
else running, vcs's CPU for the same GetRepository call went from about 1.0 to 1.9 ms. A fixed single-thread
workload (SHA-256, zstd decompression and a Python loop), timed before and after each area, lets a reader tell a
slower machine from slower code.
"""

from __future__ import annotations

import hashlib
import statistics
import time

import numpy as np
import zstandard

_BYTES = 8 * 1024 * 1024
_LOOP = 1_000_000
_REPEATS = 5


def _workload(data: bytes, frame: bytes) -> None:
    hashlib.sha256(data).digest()
    zstandard.ZstdDecompressor().decompress(frame)
    total = 0
    for value in range(_LOOP):
        total += value


def calibration_ms() -> float:
    """CPU milliseconds of the fixed workload in this thread, median of five (lower is a faster machine)."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, _BYTES, dtype=np.uint8).tobytes()
    # Like the chunked store's high byte planes before Blosc2 (kept, so that calibrations compare across runs): the
    # high bytes of 16-bit samples of a tone over noise, which zstd shrinks to about half.
    tone = 6000 * np.sin(2 * np.pi * 220 * np.arange(_BYTES) / 44100) + rng.normal(0, 300, _BYTES)
    frame = zstandard.ZstdCompressor(level=3).compress(tone.astype(np.int16).view(np.uint8)[1::2].tobytes())
    times = []
    for _ in range(_REPEATS):
        started = time.thread_time()
        _workload(data, frame)
        times.append(time.thread_time() - started)
    return round(1000 * statistics.median(times), 1)
