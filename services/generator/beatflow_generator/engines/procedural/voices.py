"""Synthesis primitives: every voice returns float32 samples; nothing loops per sample in Python."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from beatflow_audio.theory import midi_to_hz


def _time(seconds: float, rate: int) -> np.ndarray:
    return np.arange(int(seconds * rate), dtype=np.float32) / rate


def kick(rate: int, tail_hz: float) -> np.ndarray:
    """A pitch-swept sine that settles on `tail_hz` (producers tune the kick to the key)."""
    t = _time(0.4, rate)
    frequency = tail_hz + 95 * np.exp(-t * 28)
    phase = 2 * np.pi * np.cumsum(frequency) / rate
    return (np.sin(phase) * np.exp(-t * 7.5) + 0.25 * np.exp(-t * 400)).astype(np.float32)


def snare(rate: int, rng: np.random.Generator, body_hz: float) -> np.ndarray:
    """Noise plus a short tonal body at `body_hz` (tuned to the key, like the kick)."""
    t = _time(0.25, rate)
    noise = np.diff(rng.standard_normal(len(t) + 1)).astype(np.float32) * 0.5
    tone = np.sin(2 * np.pi * body_hz * t) * np.exp(-t * 30)
    return (noise * np.exp(-t * 17) * 0.6 + tone * 0.5).astype(np.float32)


def hat(rate: int, rng: np.random.Generator, *, open_: bool = False) -> np.ndarray:
    t = _time(0.3 if open_ else 0.06, rate)
    noise = np.diff(rng.standard_normal(len(t) + 2), n=2).astype(np.float32) * 0.25
    return (noise * np.exp(-t * (12 if open_ else 70))).astype(np.float32)


def lowpass(signal: np.ndarray, cutoff_hz: float, rate: int) -> np.ndarray:
    """One-pole low-pass filter."""
    alpha = 1 - np.exp(-2 * np.pi * cutoff_hz / rate)
    return np.asarray(lfilter([alpha], [1, alpha - 1], signal), dtype=np.float32)


def bass_note(pitch: int, seconds: float, rate: int) -> np.ndarray:
    t = _time(seconds, rate)
    f = midi_to_hz(pitch)
    wave = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 7))
    env = np.minimum(1, t / 0.005) * np.exp(-t * 2.2) * np.minimum(1, (seconds - t) / 0.02)
    return lowpass((wave * env).astype(np.float32), 900, rate)


def pad_note(pitch: int, seconds: float, rate: int, detune_cents: float) -> np.ndarray:
    t = _time(seconds, rate)
    f = midi_to_hz(pitch) * 2 ** (detune_cents / 1200)
    wave = np.sin(2 * np.pi * f * t) + 0.4 * np.sin(4 * np.pi * f * t) + 0.15 * np.sin(6 * np.pi * f * t)
    env = np.minimum(1, t / 0.08) * np.minimum(1, (seconds - t) / 0.25) * (0.8 + 0.2 * np.exp(-t * 1.5))
    return (wave * env).astype(np.float32)


def pluck_note(pitch: int, seconds: float, rate: int) -> np.ndarray:
    t = _time(seconds, rate)
    f = midi_to_hz(pitch)
    wave = sum(np.sin(2 * np.pi * f * h * t) * np.exp(-t * (3 + 2.5 * h)) / h for h in range(1, 6))
    env = np.minimum(1, t / 0.004) * np.minimum(1, (seconds - t) / 0.03)
    return (wave * env).astype(np.float32)


def place(track: np.ndarray, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Adds `sound` into `track` (mono or [frames, 2]) at sample `start`, cut at the end."""
    if start >= len(track):
        return
    end = min(len(track), start + len(sound))
    segment = sound[: end - start] * gain
    if track.ndim == 2 and segment.ndim == 1:
        segment = segment[:, None]
    track[start:end] += segment
