"""A picture of one stem's diff: the base and head waveforms stacked, changed ranges highlighted (PNG)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure  # drawn without pyplot: no global state, no GUI backend

from beatflow_vcs.audio_diff import ChangedRange

_DPI = 100
_WAVE_COLOUR = "#3b5b92"
_CHANGE_COLOURS = {"modified": "#f5a623", "inserted": "#4caf50", "deleted": "#e53935"}

Audio = tuple[np.ndarray, int]


def render_png(
    base: Audio | None, head: Audio | None, ranges: list[ChangedRange], *, size: tuple[int, int], title: str
) -> bytes:
    """PNG of `size` pixels; a missing side (stem added or removed) is drawn as an empty lane."""
    width, height = size
    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    lanes = figure.subplots(2, 1, sharex=True)
    duration = max((len(audio[0]) / audio[1] for audio in (base, head) if audio), default=1.0)
    # Both lanes on one scale, the louder take's peak, so quiet stems stay readable and levels comparable.
    peak = max((float(np.abs(audio[0]).max()) for audio in (base, head) if audio), default=0.0) * 1.05 or 1.0
    for lane, audio, label, side in ((lanes[0], base, "base", "base"), (lanes[1], head, "head", "head")):
        if audio is not None:
            times, low, high = _envelope(*audio, columns=width)
            lane.fill_between(times, low, high, color=_WAVE_COLOUR, linewidth=0)
        for changed in ranges:
            start, end = getattr(changed, f"{side}_start"), getattr(changed, f"{side}_end")
            colour = _CHANGE_COLOURS[changed.kind]
            if end > start:
                lane.axvspan(start, end, color=colour, alpha=0.35, linewidth=0)
            else:
                lane.axvline(start, color=colour, linewidth=2)
        lane.set_ylim(-peak, peak)
        lane.set_yticks([])
        lane.set_ylabel(label if audio is not None else f"{label} (none)")
    lanes[1].set_xlim(0.0, duration)
    lanes[1].set_xlabel("seconds")
    figure.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _envelope(samples: np.ndarray, rate: int, *, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel column: its time and the lowest and highest sample (channels mixed)."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    per_column = max(1, len(mono) // columns)
    usable = len(mono) // per_column * per_column
    blocks = mono[:usable].reshape(-1, per_column)
    times = (np.arange(len(blocks)) + 0.5) * per_column / rate
    return times, blocks.min(axis=1), blocks.max(axis=1)
