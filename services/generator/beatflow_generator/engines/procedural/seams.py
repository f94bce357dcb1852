"""How audible a join is, as two ratios (about 1 or less for a join nobody hears):
- the sample step across it relative to the median step between neighbouring samples within
  WINDOW frames on either side (a click is a step many times that);
- the spectral change across it (magnitude spectra of the WINDOW frames before and after) relative
  to the median change across the audio's own bar lines, which carry downbeats: a join at a bar
  line should change the spectrum no more than a bar line does.
"""

from __future__ import annotations

import numpy as np

WINDOW = 1024


def sample_step(before: np.ndarray, after: np.ndarray) -> float:
    """The largest absolute step, over channels, from frame `before` to frame `after`."""
    return float(np.abs(after.astype(np.float64) - before).max())


def spectral_change(before: np.ndarray, after: np.ndarray) -> float:
    """Summed absolute difference of the magnitude spectra of two WINDOW-frame stretches."""
    window = np.hanning(WINDOW)

    def spectrum(frames: np.ndarray) -> np.ndarray:
        return np.abs(np.fft.rfft(frames.mean(axis=1) * window))

    return float(np.abs(spectrum(after) - spectrum(before)).sum())


def _median_step_around(audio: np.ndarray, point: int) -> float:
    nearby = audio[point - WINDOW : point + WINDOW].astype(np.float64)
    return float(np.median(np.abs(np.diff(nearby, axis=0)).max(axis=1)))


def _median_bar_line_change(audio: np.ndarray, rate: int, bar_seconds: float, skip: int) -> float:
    """Median spectral change across the bar lines of `audio` with WINDOW frames on both sides,
    the one at frame `skip` (the join itself) left out."""
    points = [round(index * bar_seconds * rate) for index in range(1, int(len(audio) / (bar_seconds * rate)) + 1)]
    points = [p for p in points if WINDOW <= p <= len(audio) - WINDOW and abs(p - skip) > WINDOW]
    if not points:
        raise ValueError("the audio holds no other bar line to compare the join with")
    return float(np.median([spectral_change(audio[p - WINDOW : p], audio[p : p + WINDOW]) for p in points]))


def join_figures(audio: np.ndarray, rate: int, at_seconds: float, bar_seconds: float) -> dict:
    """The join at `at_seconds` in `audio` ([frames, channels])."""
    point = round(at_seconds * rate)
    if not WINDOW <= point <= len(audio) - WINDOW:
        raise ValueError("the join needs WINDOW frames on both sides")
    step = sample_step(audio[point - 1], audio[point])
    change = spectral_change(audio[point - WINDOW : point], audio[point : point + WINDOW])
    return {
        "sample_step_ratio": round(step / max(_median_step_around(audio, point), 1e-12), 4),
        "spectral_change_ratio": round(
            change / max(_median_bar_line_change(audio, rate, bar_seconds, point), 1e-12), 4
        ),
    }


def seam_figures(loop: np.ndarray, rate: int, bar_seconds: float) -> dict:
    """The seam of a loop (its end into its start), measured on the loop played twice; a one-bar
    loop, which has no other bar line, is compared with its beats."""
    spacing = bar_seconds if len(loop) > 1.5 * bar_seconds * rate else bar_seconds / 4
    return join_figures(np.concatenate([loop, loop]), rate, len(loop) / rate, spacing)
