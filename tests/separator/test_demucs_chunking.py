"""Chunked overlap-add Demucs against demucs' own whole-track `apply_model`, with tiny random models."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from demucs.apply import apply_model

from beatflow_platform.jobs.model import JobCancelled
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.demucs_engine import DemucsSeparator
from beatflow_separator.engines.overlap_add import ChunkPlan, Pass, overlap_add
from tests.separator import tiny_demucs

RATE = 44100
SEGMENT = int(tiny_demucs.TINY_SIZE["segment"] * RATE)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    directory = tiny_demucs.build(tmp_path_factory.mktemp("demucs"))
    tiny_demucs.save_model(directory, "1b2c3d4e", seed=1)
    tiny_demucs.save_bag(directory, "htdemucs_ft", ["0a1b2c3d", "1b2c3d4e"], [[1, 0.5, 1, 0.2], [0.5, 1, 1, 1]])
    return directory


@pytest.fixture(scope="module")
def demucs(weights):
    return DemucsSeparator(weights)


class ArrayMix:
    """A MixReader over samples in memory that records which frames were read."""

    def __init__(self, samples: np.ndarray):
        self.samples = samples
        self.rate, self.channels, self.frames = RATE, samples.shape[1], len(samples)
        self.reads: list[tuple[int, int]] = []

    def read(self, start, stop):
        self.reads.append((start, stop))
        return self.samples[start:stop]

    def blocks(self, frames):
        for start in range(0, self.frames, frames):
            yield self.samples[start : start + frames]


def track(seconds: float, seed: int = 0) -> np.ndarray:
    """Stereo: a bass line, a chord and decaying noise hits every 0.25 s."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    bass = 0.3 * np.sin(2 * np.pi * 55 * t * (1 + (t // 0.5) % 2 / 2))
    chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    hits = 0.4 * rng.standard_normal(len(t)) * np.exp(-40 * (t % 0.25))
    return np.stack([bass + chord + hits, bass + 0.8 * chord + hits], axis=1).astype(np.float32)


def collect(stream) -> np.ndarray:
    """The stream's blocks joined: [stems, frames, channels]."""
    blocks = list(stream.blocks)
    return np.stack([np.concatenate([b[name] for b in blocks]) for name in stream.stems])


def normalised(samples: np.ndarray) -> tuple[torch.Tensor, float, float]:
    reference = samples.mean(axis=1)
    mean, std = float(reference.mean()), float(reference.std(ddof=1))
    return torch.from_numpy(((samples - mean) / std).T.copy()), mean, std


def whole_track(model, samples: np.ndarray, *, overlap: float, leading_silence: int = 0) -> np.ndarray:
    """apply_model over the whole track (optionally preceded by silence, then cut), as [stems, frames, channels]."""
    mix, mean, std = normalised(samples)
    mix = torch.cat([torch.zeros(mix.shape[0], leading_silence), mix], dim=1)
    with torch.inference_mode():
        out = apply_model(model, mix[None], shifts=0, split=True, overlap=overlap)[0][..., leading_silence:]
    return (out * std + mean).numpy().transpose(0, 2, 1)


@pytest.mark.parametrize("overlap", [0.25, 0.6])
def test_chunked_output_matches_whole_track_apply_model(demucs, overlap):
    samples = track(3.3)
    chunked = collect(demucs.separate_stream(ArrayMix(samples), SeparationOptions(overlap=overlap), lambda *_: None))
    expected = whole_track(demucs.model("htdemucs"), samples, overlap=overlap)
    assert chunked.shape == expected.shape == (4, len(samples), 2)
    np.testing.assert_allclose(chunked, expected, atol=1e-6)
    assert np.abs(expected).max() > 1e-3  # the comparison is not between silences


def test_a_weighted_bag_matches_apply_model(demucs):
    samples = track(2.2, seed=1)
    options = SeparationOptions(model_name="htdemucs_ft")
    chunked = collect(demucs.separate_stream(ArrayMix(samples), options, lambda *_: None))
    expected = whole_track(demucs.model("htdemucs_ft"), samples, overlap=0.25)
    np.testing.assert_allclose(chunked, expected, atol=1e-6)


def test_random_shifts_average_whole_track_passes(demucs):
    """demucs' random shifts: each pass sees the track after up to 0.5 s of silence; passes are averaged.
    (apply_model itself draws later shifts after model calls that consume random numbers, so the
    reference is built from the same shifts explicitly.)"""
    samples = track(1.6, seed=2)
    options = SeparationOptions(shifts=2)
    model = demucs.model("htdemucs")
    random.seed(7)
    shifts = [p.plan.shift for p in demucs.passes(model, len(samples), options)]
    assert len(set(shifts)) == 2
    random.seed(7)
    chunked = collect(demucs.separate_stream(ArrayMix(samples), options, lambda *_: None))
    expected = np.mean([whole_track(model, samples, overlap=0.25, leading_silence=s) for s in shifts], axis=0)
    np.testing.assert_allclose(chunked, expected, atol=1e-6)


def test_batches_of_two_chunks_give_the_same_stems(weights, demucs):
    samples = track(2.9, seed=3)
    one = collect(demucs.separate_stream(ArrayMix(samples), SeparationOptions(), lambda *_: None))
    calls = []
    batched = DemucsSeparator(weights, batch_size=2)
    model = batched.model("htdemucs").models[0]
    model.register_forward_hook(lambda module, args, output: calls.append(args[0].shape[0]))
    two = collect(batched.separate_stream(ArrayMix(samples), SeparationOptions(), lambda *_: None))
    assert calls == [2, 2]  # four chunks in two model calls
    np.testing.assert_allclose(two, one, atol=1e-5)


def test_a_track_shorter_than_a_chunk_is_one_window_cut_to_its_length(demucs):
    samples = track(0.4)
    steps = []
    stems = collect(demucs.separate_stream(ArrayMix(samples), SeparationOptions(), lambda *a: steps.append(a)))
    assert stems.shape == (4, len(samples), 2)
    assert steps == [(1.0, "separating", "chunk 1/1")]
    np.testing.assert_allclose(stems, whole_track(demucs.model("htdemucs"), samples, overlap=0.25), atol=1e-6)


def test_progress_counts_chunks_and_cancelling_stops_between_them(demucs):
    samples = track(3.1)
    steps = []
    collect(demucs.separate_stream(ArrayMix(samples), SeparationOptions(), lambda *a: steps.append(a)))
    chunks = len(ChunkPlan.of(len(samples), SEGMENT, 0.25).offsets)
    assert steps == [(k / chunks, "separating", f"chunk {k}/{chunks}") for k in range(1, chunks + 1)]

    def cancel_after_two(fraction, stage, message):
        if message == f"chunk 2/{chunks}":
            raise JobCancelled("job")

    mix = ArrayMix(samples)
    with pytest.raises(JobCancelled):
        collect(demucs.separate_stream(mix, SeparationOptions(), cancel_after_two))
    assert len(mix.reads) == 2  # the third chunk was never read


@pytest.mark.parametrize(("overlap", "shifts"), [(0.25, ()), (0.75, ()), (0.25, (300, 4000))])
def test_overlap_add_reconstructs_the_track_while_reading_ahead_by_at_most_two_chunks(overlap, shifts):
    """With a model that hands its input back, the result is the track itself; the first block comes out
    after two chunks whatever the track's length, so memory stays bounded."""
    samples = track(12.0)
    length, segment = len(samples), 8192
    passes = [
        Pass(0, ChunkPlan.of(length, segment, overlap, shift), torch.full((2,), 1 / max(1, len(shifts))))
        for shift in shifts or (0,)
    ]
    mix = ArrayMix(samples)

    def read(start, stop):
        return torch.from_numpy(mix.read(start, stop).T.copy())

    def identity(_, windows):
        return torch.stack([windows, -windows], dim=1)  # two "stems": the input and its negation

    blocks = overlap_add(passes, identity, read, channels=2, stems=2)
    first = next(blocks)
    assert max(stop for _, stop in mix.reads) <= 2 * segment
    out = torch.cat([first, *blocks], dim=-1).numpy().transpose(0, 2, 1)
    np.testing.assert_allclose(out[0], samples, atol=1e-6)
    np.testing.assert_allclose(out[1], -samples, atol=1e-6)
