"""What changed inside a stem: the time ranges where two takes of its audio differ (pure, numpy).

Both takes are resampled to `ANALYSIS_RATE` and described every `HOP_SECONDS` by the energy of
log-spaced frequency bands (dB, per channel when both are stereo). Band levels are clamped at a
floor `FLOOR_BELOW_PEAK_DB` under the louder take's loud frames, so quantisation noise, dither and
resampling error (all far below it) are no change, while a level change of a few dB is one.

Inserted or deleted material shifts everything after it. The head's frames are aligned to the
base's under two offsets, none and the length difference, by a Viterbi pass that pays a penalty
to switch offset: one insertion or deletion anywhere is reported as that range, not as "the rest
changed". Changed frames are merged across short gaps, tiny ranges dropped, and where a tempo is
known, range edges close to a beat are snapped onto it (never moving an edge further than the
analysis resolution).

`Difference` tells a merge whether part of a changed range only rings out: past the bar line where
an edited note was released, the takes differ only by a fading tail (see `Difference.rings_out`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

ANALYSIS_RATE = 16000
HOP_SECONDS = 0.01
WINDOW_SAMPLES = 512
BANDS = 32
BAND_LOW_HZ = 40.0
FLOOR_BELOW_PEAK_DB = 50.0
# Mean band-level difference (dB, weighted toward the louder bands) above which a frame changed.
CHANGE_THRESHOLD_DB = 1.5
SMOOTH_FRAMES = 5
# The difference of a frame with nothing to compare to (outside the other take).
_UNMATCHED_DB = 60.0
# Timing differences up to this many frames (a renderer's block size, a resampler's delay) are no change.
JITTER_FRAMES = 2
# Changed ranges closer than this are one (or one beat, when the tempo is known and that is longer).
MERGE_GAP_SECONDS = 0.3
MIN_RANGE_SECONDS = 0.1
SNAP_TOLERANCE_SECONDS = 0.05
# Viterbi: a frame's cost is its difference in thresholds, capped; switching offset costs SWITCH_PENALTY
# (about a second of clearly different audio, so repeated music does not make the alignment wander).
COST_CAP = 4.0
SWITCH_PENALTY = 400.0
# Where music repeats, both alignments match: the unshifted one wins, so a shift starts where it must.
SHIFTED_BIAS = 0.01
SILENCE_DBFS = -100.0
_BLOCK_FRAMES = 4096
# Ringing out: the difference's level (smoothed over RING_SMOOTH_FRAMES) never climbs more than RING_RISE_DB
# above its lowest level so far, from RING_LOOKBACK_SECONDS before the span on, and falls at least
# RING_MIN_DECAY_DB_PER_S from the span's start (RING_RISE_DB of slack); it counts only down to
# RING_DEPTH_DB under its loudest (below that it is gone).
RING_SMOOTH_FRAMES = 3
RING_RISE_DB = 6.0
RING_LOOKBACK_SECONDS = 0.05
RING_MIN_DECAY_DB_PER_S = 20.0
RING_DEPTH_DB = 40.0


@dataclass(frozen=True)
class ChangedRange:
    """One changed region, in seconds on both takes' timelines.

    A range inserted in the head is empty in the base (`base_start == base_end`), a deleted one is
    empty in the head. Loudness is RMS in dBFS of each side's range (`SILENCE_DBFS` when empty).
    """

    base_start: float
    base_end: float
    head_start: float
    head_end: float
    base_loudness_dbfs: float
    head_loudness_dbfs: float

    @property
    def kind(self) -> str:
        if self.base_end <= self.base_start:
            return "inserted"
        if self.head_end <= self.head_start:
            return "deleted"
        return "modified"

    @property
    def loudness_change_db(self) -> float:
        return self.head_loudness_dbfs - self.base_loudness_dbfs


def changed_ranges(
    base: np.ndarray, base_rate: int, head: np.ndarray, head_rate: int, *, base_bpm: float = 0, head_bpm: float = 0
) -> list[ChangedRange]:
    """The ranges where `head` differs from `base` (float samples, [frames] or [frames, channels])."""
    base_a, head_a = _analysis_signal(base, base_rate), _analysis_signal(head, head_rate)
    channels = min(base_a.shape[1], head_a.shape[1])
    if channels == 1:
        base_a, head_a = base_a.mean(axis=1, keepdims=True), head_a.mean(axis=1, keepdims=True)
    base_f, head_f = _band_levels(base_a[:, :channels]), _band_levels(head_a[:, :channels])
    floor = max(_reference_level(base_f), _reference_level(head_f)) - FLOOR_BELOW_PEAK_DB
    base_f, head_f = np.maximum(base_f, floor), np.maximum(head_f, floor)
    offsets = sorted({0, len(head_f) - len(base_f)})
    distances = np.stack([_smooth(_distances(base_f, head_f, offset, floor)) for offset in offsets])
    costs = np.minimum(distances / CHANGE_THRESHOLD_DB, COST_CAP) + SHIFTED_BIAS * (np.asarray(offsets) != 0)[:, None]
    path = _viterbi(costs)
    changed = distances[path, np.arange(len(head_f))] > CHANGE_THRESHOLD_DB
    gap = round(max(MERGE_GAP_SECONDS, 60.0 / head_bpm if head_bpm > 0 else 0.0) / HOP_SECONDS)
    return [
        _to_range(base, base_rate, head, head_rate, edges, base_bpm, head_bpm)
        for edges in _frame_ranges(changed, np.asarray(offsets)[path], len(base_f), gap)
        if max(edges[1] - edges[0], edges[3] - edges[2]) * HOP_SECONDS >= MIN_RANGE_SECONDS
    ]


def _analysis_signal(samples: np.ndarray, rate: int) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[:, None]
    if rate != ANALYSIS_RATE:
        samples = soxr.resample(samples, rate, ANALYSIS_RATE, quality="HQ")
    return np.ascontiguousarray(samples, dtype=np.float32)


def _band_matrix() -> np.ndarray:
    """[bins, BANDS] sum of power per log-spaced band (bins below the lowest edge join the first band)."""
    frequencies = np.fft.rfftfreq(WINDOW_SAMPLES, 1 / ANALYSIS_RATE)
    edges = np.geomspace(BAND_LOW_HZ, ANALYSIS_RATE / 2, BANDS + 1)
    band = np.clip(np.searchsorted(edges, frequencies, side="right") - 1, 0, BANDS - 1)
    matrix = np.zeros((len(frequencies), BANDS), dtype=np.float32)
    matrix[np.arange(len(frequencies)), band] = 1.0
    return matrix


_BANDS = _band_matrix()
_WINDOW = np.hanning(WINDOW_SAMPLES).astype(np.float32)
# A full-scale sine reads about 0 dB in its band.
_SCALE = 4.0 / float(_WINDOW.sum()) ** 2


def _band_levels(signal: np.ndarray) -> np.ndarray:
    """[frames, channels * BANDS] band levels in dB, computed in blocks so memory stays bounded."""
    hop = round(HOP_SECONDS * ANALYSIS_RATE)
    padded = np.pad(signal, ((WINDOW_SAMPLES // 2, WINDOW_SAMPLES // 2), (0, 0)))
    frames = max(1, (len(padded) - WINDOW_SAMPLES) // hop + 1)
    levels = np.empty((frames, signal.shape[1] * BANDS), dtype=np.float32)
    for channel in range(signal.shape[1]):
        windows = np.lib.stride_tricks.sliding_window_view(padded[:, channel], WINDOW_SAMPLES)[::hop][:frames]
        for start in range(0, frames, _BLOCK_FRAMES):
            spectrum = np.fft.rfft(windows[start : start + _BLOCK_FRAMES] * _WINDOW, axis=1)
            power = (spectrum.real**2 + spectrum.imag**2) @ _BANDS * _SCALE
            levels[start : start + _BLOCK_FRAMES, channel * BANDS : (channel + 1) * BANDS] = 10 * np.log10(
                power + 1e-20
            )
    return levels


def _reference_level(levels: np.ndarray) -> float:
    """The level of a take's loud frames (their loudest band), in dB."""
    return float(np.percentile(levels.max(axis=1), 95))


def _distances(base: np.ndarray, head: np.ndarray, offset: int, floor: float) -> np.ndarray:
    """Per head frame j, how far (dB) it lies outside the range the base spans over frames
    j - offset +- `JITTER_FRAMES` (`_UNMATCHED_DB` outside the base): the larger of the band levels'
    distance (averaged with amplitude weights, so loud bands lead) and each channel's overall level's.
    An attack a few milliseconds early or late stays inside that range; other notes do not, nor does a
    level change, which the overall level shows even where vibrato makes single bands waver."""
    distances = np.full(len(head), _UNMATCHED_DB, dtype=np.float32)
    start, stop = max(0, offset), min(len(head), len(base) + offset)
    if start >= stop:
        return distances
    ours, low, high = head[start:stop], *_neighbour_range(base, start - offset, stop - offset)
    outside = np.maximum(ours - high, 0.0) + np.maximum(low - ours, 0.0)
    weights = np.power(10.0, (np.maximum(ours, high) - floor) / 20.0)
    bands = (weights * outside).sum(axis=1) / weights.sum(axis=1)
    ours, low, high = _overall(ours), *_neighbour_range(_overall(base), start - offset, stop - offset)
    overall = (np.maximum(ours - high, 0.0) + np.maximum(low - ours, 0.0)).max(axis=1)
    distances[start:stop] = np.maximum(bands, overall)
    return distances


def _neighbour_range(levels: np.ndarray, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest level of frames [start, stop) and their `JITTER_FRAMES` neighbours."""
    padded = np.pad(levels, ((JITTER_FRAMES, JITTER_FRAMES), (0, 0)), mode="edge")
    neighbours = np.lib.stride_tricks.sliding_window_view(
        padded[start : stop + 2 * JITTER_FRAMES], 2 * JITTER_FRAMES + 1, axis=0
    )
    return neighbours.min(axis=2), neighbours.max(axis=2)


def _overall(levels: np.ndarray) -> np.ndarray:
    """[frames, channels] overall level in dB from [frames, channels * BANDS] band levels."""
    power = np.power(10.0, levels.reshape(len(levels), -1, BANDS) / 10.0).sum(axis=2)
    return 10 * np.log10(power)


def _smooth(distances: np.ndarray) -> np.ndarray:
    """Moving average over `SMOOTH_FRAMES`: a change is sustained, a renderer's onset jitter is not."""
    kernel = np.ones(SMOOTH_FRAMES, dtype=np.float32) / SMOOTH_FRAMES
    return np.convolve(np.minimum(distances, _UNMATCHED_DB), kernel, mode="same")


def _viterbi(costs: np.ndarray) -> np.ndarray:
    """The cheapest state per frame for costs [states, frames] with a fixed price per switch."""
    states, frames = costs.shape
    back = np.zeros((frames, states), dtype=np.int8)
    total = costs[:, 0].astype(np.float64)
    for frame in range(1, frames):
        best = int(np.argmin(total))
        switch = total[best] + SWITCH_PENALTY
        back[frame] = np.where(total <= switch, np.arange(states), best)
        total = np.minimum(total, switch) + costs[:, frame]
    path = np.empty(frames, dtype=np.int64)
    path[-1] = int(np.argmin(total))
    for frame in range(frames - 1, 0, -1):
        path[frame - 1] = back[frame, path[frame]]
    return path


def _changed_runs(changed: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """[start, stop) runs of changed frames, joined across gaps of at most `gap` frames."""
    flips = np.flatnonzero(np.diff(np.concatenate(([0], changed.astype(np.int8), [0]))))
    runs: list[tuple[int, int]] = []
    for start, stop in zip(flips[::2].tolist(), flips[1::2].tolist(), strict=True):
        if runs and start - runs[-1][1] <= gap:
            start = runs.pop()[0]
        runs.append((start, stop))
    return runs


def _frame_ranges(
    changed: np.ndarray, offsets: np.ndarray, base_frames: int, gap: int
) -> list[tuple[int, int, int, int]]:
    """(base_start, base_end, head_start, head_end) in frames.

    A run of changed head frames after which the offset has grown by L (before the next run) opens
    with L inserted frames; the rest of it, or all of it, is modified. (Where music repeats, the
    shifted alignment may only take over some way after the insertion: the run still marks where
    it began.) A drop of the offset outside a run is a deletion without an audible seam, a rise
    before the first run an insertion.
    """
    head_frames = len(changed)
    if head_frames == 0:
        return [(0, base_frames, 0, 0)] if base_frames else []
    runs = _changed_runs(changed, gap)
    ranges, claimed = [], []
    for index, (start, stop) in enumerate(runs):
        reach = runs[index + 1][0] if index + 1 < len(runs) else head_frames
        before = int(offsets[start - 1] if start > 0 else offsets[start])
        after = int(offsets[min(stop, head_frames - 1)])
        if int(offsets[reach - 1]) > max(before, after):  # the offset rises after the run, before the next
            after = int(offsets[reach - 1])
        else:
            reach = stop
        claimed.append((start, reach))
        base_start = int(np.clip(start - before, 0, base_frames))
        inserted = max(0, after - before)
        if inserted:
            ranges.append((base_start, base_start, start, min(start + inserted, head_frames)))
            start += inserted
        if start < stop:
            ranges.append((base_start, int(np.clip(stop - after, base_start, base_frames)), start, stop))
    for frame in (np.flatnonzero(np.diff(offsets)) + 1).tolist():
        if not any(start <= frame <= reach for start, reach in claimed):
            before, after = int(offsets[frame - 1]), int(offsets[frame])
            if after > before:
                ranges.append((frame - before, frame - before, frame, frame + after - before))
            else:
                ranges.append((frame - before, frame - after, frame, frame))
    return sorted(ranges, key=lambda r: (r[2], r[0]))


def _to_range(base, base_rate, head, head_rate, edges, base_bpm, head_bpm) -> ChangedRange:
    base_start, base_end = (_snap(frame * HOP_SECONDS, base_bpm) for frame in edges[:2])
    head_start, head_end = (_snap(frame * HOP_SECONDS, head_bpm) for frame in edges[2:])
    return ChangedRange(
        base_start,
        base_end,
        head_start,
        head_end,
        rms_dbfs(base, base_rate, base_start, base_end),
        rms_dbfs(head, head_rate, head_start, head_end),
    )


def _snap(seconds: float, bpm: float) -> float:
    """The nearest beat when it is within the analysis resolution, else the time itself (ms precision)."""
    if bpm > 0:
        beat = 60.0 / bpm
        grid = round(seconds / beat) * beat
        if abs(grid - seconds) <= SNAP_TOLERANCE_SECONDS:
            return round(grid, 4)
    return round(seconds, 3)


class Difference:
    """How loud the difference between two takes of one timeline (same rate and length) is over time: the
    power by which their frequency bands differ, in dB per analysis frame."""

    def __init__(self, base: np.ndarray, head: np.ndarray, rate: int):
        base_p, head_p = (np.power(10.0, _band_levels(_analysis_signal(x, rate)) / 10.0) for x in (base, head))
        frames = min(len(base_p), len(head_p))
        power = np.abs(head_p[:frames] - base_p[:frames]).sum(axis=1)
        kernel = np.ones(RING_SMOOTH_FRAMES) / RING_SMOOTH_FRAMES
        self.level_db = 10 * np.log10(np.convolve(power, kernel, mode="same") + 1e-20)

    def rings_out(self, start: float, end: float) -> bool:
        """Whether the difference over [start, end) only fades: a release tail of notes that ended by `start`
        (no difference begins or swells in it; a held note, which does not fade, is no tail)."""
        first = max(0, round((start - RING_LOOKBACK_SECONDS) / HOP_SECONDS))
        onset, stop = round(start / HOP_SECONDS), min(len(self.level_db), round(end / HOP_SECONDS))
        if stop - onset < 2:
            return True
        level = self.level_db[first:stop]
        floor = level.max() - RING_DEPTH_DB
        level = np.maximum(level, floor)
        if float(np.max(level - np.minimum.accumulate(level))) > RING_RISE_DB:
            return False
        # Under a line falling RING_MIN_DECAY_DB_PER_S from where the span starts (or gone), all along.
        tail = level[onset - first :]
        bound = tail[0] + RING_RISE_DB - RING_MIN_DECAY_DB_PER_S * HOP_SECONDS * np.arange(len(tail))
        return bool(np.all((tail <= bound) | (tail <= floor)))


def rms_dbfs(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    """RMS level of a time range in dBFS (`SILENCE_DBFS` for an empty or silent range)."""
    part = np.asarray(samples[int(start * rate) : int(end * rate)], dtype=np.float64)
    if part.size == 0:
        return SILENCE_DBFS
    power = float(np.mean(part**2))
    return round(max(SILENCE_DBFS, 10 * float(np.log10(power + 1e-30))), 2)
