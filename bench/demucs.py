"""Demucs figures: memory against track length, and the cost of a repeated request (area "demucs",
run only when named: about an hour on 2 CPU cores, most of it separating 11 minutes of audio with a
full-size model).

- `demucs_peak_rss_10min_over_1min`: peak RSS of `beatflow_separator.offline.separate_file` (the
  service's pipeline: streamed decode, chunked overlap-add, streamed stem files) on a 10-minute
  and on a 1-minute mixture, each in its own process, with a random-weight HTDemucs of the
  released architecture (HTDemucs' defaults, 7.8 s segment). The mixtures are synthesised.
- `demucs_cached_repeat_ms`: median time of SeparateStems asking again for a separation that is
  done, on the whole local stack (PostgreSQL, vcs, separator); `demucs_first_separation_ms` is
  the same request's first run (separating 10 s with the tiny model), for comparison.
- The baseline in the same run: `demucs_whole_track_*`, the same model separating the whole
  decoded track in memory with demucs' own `apply_model` (the engine before chunking).

Run: `.venv/bin/python -m bench demucs` -> bench/results/demucs.json.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import soundfile

from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow.separator.v1 import separator_pb2, separator_pb2_grpc
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.stack import LocalStack
from bench._memory import peak_rss_mb
from tests.separator import tiny_demucs

RATE = 44100
REPEATS = 20


def write_mixture(path: Path, seconds: float, block_seconds: float = 10.0) -> None:
    """A stereo mixture (bass line, chord, noise hits) written block by block."""
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(path, "w", samplerate=RATE, channels=2, format="FLAC", subtype="PCM_16") as out:
        for start in np.arange(0, seconds, block_seconds):
            t = start + np.arange(int(min(block_seconds, seconds - start) * RATE)) / RATE
            bass = 0.3 * np.sin(2 * np.pi * 55 * t * (1 + (t // 0.5) % 2 / 2))
            chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
            hits = 0.3 * rng.standard_normal(len(t)) * np.exp(-40 * (t % 0.25))
            out.write(np.stack([bass + chord + hits, bass + 0.8 * chord + hits], axis=1))


def _child_peak_rss(mixture: Path, weights: Path, out_dir: Path) -> None:
    """Runs in its own process: separates, then prints its peak RSS."""
    from beatflow_separator.offline import separate_file

    started = time.perf_counter()
    separate_file(mixture, out_dir, engine="demucs", weights_dir=weights)
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "seconds": time.perf_counter() - started,
            }
        )
    )


def _child_whole_track_peak_rss(mixture: Path, weights: Path, out_dir: Path) -> None:
    """The baseline, in its own process: the whole track decoded and separated in memory by demucs'
    apply_model (what the engine did before chunking), stems written at the end."""
    import torch
    from demucs.apply import apply_model
    from demucs.pretrained import get_model

    started = time.perf_counter()
    model = get_model("htdemucs", repo=weights).eval()
    samples, rate = soundfile.read(mixture, dtype="float32", always_2d=True)
    mix = torch.from_numpy(samples.T.copy())
    reference = mix.mean(0)
    mean, scale = reference.mean(), reference.std()
    with torch.inference_mode():
        sources = apply_model(model, ((mix - mean) / scale)[None], split=True, overlap=0.25)[0]
    stems = (sources * scale + mean).numpy()
    out_dir.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(model.sources):
        soundfile.write(out_dir / f"{name}.wav", np.clip(stems[index].T, -1, 1), rate, subtype="PCM_16")
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "seconds": time.perf_counter() - started,
            }
        )
    )


def peak_rss(mode: str, mixture: Path, weights: Path, out_dir: Path) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "bench.demucs", mode, str(mixture), str(weights), str(out_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def memory_figures(work: Path) -> dict[str, float]:
    weights = tiny_demucs.build(work / "released", size=tiny_demucs.RELEASED_SIZE)
    figures = {}
    for mode, prefix in (("peak-rss", "demucs"), ("whole-track-peak-rss", "demucs_whole_track")):
        runs = {}
        for minutes in (1, 10):
            mixture = work / f"mix_{minutes}min.flac"
            if not mixture.exists():
                write_mixture(mixture, 60.0 * minutes)
            runs[minutes] = peak_rss(mode, mixture, weights, work / f"{prefix}_stems_{minutes}min")
        figures |= {
            f"{prefix}_peak_rss_mb_1min": round(runs[1]["peak_rss_mb"], 1),
            f"{prefix}_peak_rss_mb_10min": round(runs[10]["peak_rss_mb"], 1),
            f"{prefix}_peak_rss_10min_over_1min": round(runs[10]["peak_rss_mb"] / runs[1]["peak_rss_mb"], 3),
            f"{prefix}_released_size_realtime_factor_10min": round(600.0 / runs[10]["seconds"], 3),
        }
    return figures


async def _cache_figures(work: Path) -> dict[str, float]:
    weights = tiny_demucs.build(work / "tiny")
    stack = LocalStack(work / "home", free_port())
    dsn = await stack.start_database()
    stack.start_services(
        dsn, gateway_port=free_port(), settings_env={"LOG_LEVEL": "WARNING", "DEMUCS_MODEL_DIR": str(weights)}
    )
    try:
        await stack.wait_until_serving()
        mixture = work / "mix_10s.flac"
        write_mixture(mixture, 10.0)
        async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=60) as http:
            registered = await http.post(
                "/api/auth/register",
                json={"username": "bench", "email": "bench@example.com", "password": "bench password"},
            )
            token = registered.json()["tokens"]["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            files = {"file": ("mix.flac", mixture.read_bytes(), "audio/flac")}
            blob_id = (await http.post("/api/audio/upload", files=files, headers=headers)).json()["blob_id"]
        metadata = (("authorization", f"Bearer {token}"),)
        request = separator_pb2.SeparateStemsRequest(source_blob_id=blob_id, engine="demucs")
        async with grpc.aio.insecure_channel(stack.url("separator").removeprefix("grpc://")) as channel:
            separator = separator_pb2_grpc.SeparatorServiceStub(channel)
            jobs = jobs_pb2_grpc.JobServiceStub(channel)
            started = time.perf_counter()
            job = last = (await separator.SeparateStems(request, metadata=metadata)).job
            async for event in jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.job_id), metadata=metadata):
                last = event.job
            first_ms = (time.perf_counter() - started) * 1000
            assert last.state == jobs_pb2.JOB_STATE_SUCCEEDED, last.error
            repeats = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                again = (await separator.SeparateStems(request, metadata=metadata)).job
                repeats.append((time.perf_counter() - started) * 1000)
                assert again.job_id == job.job_id
    finally:
        stack.stop()
    return {
        "demucs_cached_repeat_ms": round(statistics.median(repeats), 2),
        "demucs_first_separation_ms": round(first_ms, 1),
    }


def run() -> dict[str, float]:
    work = reachable_tempdir("beatflow-bench-demucs-")
    try:
        figures = asyncio.run(_cache_figures(work))
        figures.update(memory_figures(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["peak-rss"]:
        _child_peak_rss(*map(Path, sys.argv[2:5]))
    elif sys.argv[1:2] == ["whole-track-peak-rss"]:
        _child_whole_track_peak_rss(*map(Path, sys.argv[2:5]))
    else:
        raise SystemExit("run the area with: python -m bench demucs")
