"""Generator figures: the procedural engine's speed, its fidelity to the requested tempo and key
as judged by analysers this project did not write, and the variety of its styles; job queue
throughput and claim latency with 4 workers, and WatchJob event latency over gRPC, against a
private PostgreSQL cluster.

Fidelity: plain `librosa.beat.beat_track` (Acc2: within 4 % of the requested tempo or of 2, 1/2,
3 or 1/3 times it) and a textbook key estimate (mean chroma_cqt correlated with the
Krumhansl-Kessler profiles), over pieces whose style, tempo, tonic and mode are drawn from a seed
the engine was never tuned on, each beside the naive baseline (always 120 bpm, always C major).
Variety: 16 style prompts at one tempo and key; a piece counts as distinct when its nearest
neighbour, by MFCC means plus the onset-strength autocorrelation, is farther than VARIETY_FLOOR.
Creative operations: the time to continue or repaint 8 bars of a 3-minute piece (wall clock and
CPU, FluidSynth's included) as the service runs them, from the source commit's stored stems (their
FLAC decoding included), beside the same operations re-rendering the source from its spec and the
source rendered new, all in one run; and the joins they make, by the engine's seam measures
(`seams`), over the 16 style prompts, each beside a naive splice: a loop cut out of the source
without wrapping its tails, and a continuation appended to the source's faded end.
`python -m bench.generator operations` re-takes only these.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime

import grpc
import librosa
import numpy as np

from beatflow.jobs.v1 import jobs_pb2, jobs_pb2_grpc
from beatflow_audio import codec
from beatflow_audio.analysis import ANALYSIS_RATE, analysis_signal
from beatflow_audio.theory import Key
from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import LocalPostgres, reachable_tempdir
from beatflow_devtools.signing_keys import StackKeys
from beatflow_generator.engines.base import SourceAudio
from beatflow_generator.engines.procedural.engine import SAMPLE_RATE, ProceduralEngine
from beatflow_generator.engines.procedural.seams import join_figures, seam_figures
from beatflow_generator.engines.procedural.styles import STYLES
from beatflow_generator.spec import CONTINUE, LOOP, REPAINT, GenerationSpec, Operation, derive
from beatflow_platform.auth import TokenIssuer, TokenVerifier
from beatflow_platform.db.pool import open_pool
from beatflow_platform.grpc.interceptors import AuthScope, rpc_outcome_scope
from beatflow_platform.grpc.server import GrpcHost, ServiceRegistration
from beatflow_platform.jobs import servicer as job_servicer
from beatflow_platform.jobs.events import CHANGED_CHANNEL, QUEUED_CHANNEL, Notifications
from beatflow_platform.jobs.migrate import apply_job_migrations
from beatflow_platform.jobs.queue import JobQueue
from beatflow_platform.jobs.worker import JobWorker
from beatflow_platform.logging import configure_logging
from beatflow_platform.pagination import PageTokens
from beatflow_platform.settings import AuthSettings, DatabaseSettings, ServiceSettings
from bench.corpus.baselines import key_from_chroma
from bench.corpus.metrics import tempo_hits

AUDIO_SECONDS = 30.0
FIDELITY_SEED = 2026  # the pieces' draw; the engine was tuned on other seeds
FIDELITY_PIECES_PER_STYLE = 3
FIDELITY_SECONDS = 15.0
VARIETY_STYLES = [
    "house",
    "techno",
    "hip-hop",
    "trap",
    "lo-fi",
    "drum and bass",
    "reggae",
    "funk",
    "jazz",
    "bossa nova",
    "rock",
    "pop",
    "ambient",
    "cinematic",
    "afrobeat",
    "string quartet",
]
VARIETY_FLOOR = 0.5
OPERATION_SOURCE_SECONDS = 180.0
OPERATION_BARS = 8
OPERATION_RUNS = 5
SEAM_BPM, SEAM_SOURCE_BARS, SEAM_LOOP_BARS = 120, 12, 4
THROUGHPUT_JOBS = 400
LATENCY_JOBS = 60
WATCH_EVENTS = 60
AUTH = AuthSettings(
    jwt_secret="bench-secret-that-is-long-enough-0123456789", **StackKeys.generate([]).auth_settings("vcs")
)


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[-1]


def textbook_key(samples: np.ndarray, rate: int) -> Key:
    """Mean chroma_cqt (librosa's defaults) correlated with the 24 rotated Krumhansl-Kessler profiles."""
    return key_from_chroma(librosa.feature.chroma_cqt(y=analysis_signal(samples, rate), sr=ANALYSIS_RATE))


def plain_tempo(samples: np.ndarray, rate: int) -> float:
    tempo, _ = librosa.beat.beat_track(y=analysis_signal(samples, rate), sr=ANALYSIS_RATE)
    return float(np.atleast_1d(tempo)[0])


def style_features(samples: np.ndarray, rate: int) -> np.ndarray:
    """Timbre (MFCC means) and onset pattern (normalised onset-strength autocorrelation, ~2.3 s of lags)."""
    mono = analysis_signal(samples, rate)
    mfcc = librosa.feature.mfcc(y=mono, sr=ANALYSIS_RATE, n_mfcc=13).mean(axis=1)
    onsets = librosa.onset.onset_strength(y=mono, sr=ANALYSIS_RATE)
    pattern = librosa.autocorrelate(onsets - onsets.mean(), max_size=200)
    return np.concatenate([mfcc / 50, 4 * pattern / pattern[0]])


def _spec(prompt: str, bpm: int, key: Key, seconds: float, seed: int) -> GenerationSpec:
    return GenerationSpec(
        prompt=prompt, bpm=bpm, mood="", duration_seconds=seconds, key=key, engine="procedural", seed=seed
    )


def fidelity_figures() -> dict[str, float]:
    engine = ProceduralEngine()
    rng = np.random.default_rng(FIDELITY_SEED)
    tempo_right, key_right, baseline_tempo, baseline_key = [], [], [], []
    for style, index in itertools.product(STYLES, range(FIDELITY_PIECES_PER_STYLE)):
        low, high = style.bpm_range
        bpm, key = int(rng.integers(low, high + 1)), Key(int(rng.integers(12)), bool(index % 2))
        rendering = engine.render(
            _spec(style.names[0], bpm, key, FIDELITY_SECONDS, int(rng.integers(1, 2**31))), lambda *_: None
        )
        mix = rendering.stems["mix"]
        tempo_right.append(tempo_hits(plain_tempo(mix, SAMPLE_RATE), bpm)[1])
        key_right.append(textbook_key(mix, SAMPLE_RATE) == key)
        baseline_tempo.append(tempo_hits(120.0, bpm)[1])
        baseline_key.append(key == Key(0, False))
    return {
        "fidelity_pieces": len(tempo_right),
        "fidelity_tempo_acc2": round(float(np.mean(tempo_right)), 3),
        "fidelity_key_exact": round(float(np.mean(key_right)), 3),
        "fidelity_tempo_acc2_baseline_always_120bpm": round(float(np.mean(baseline_tempo)), 3),
        "fidelity_key_exact_baseline_always_c_major": round(float(np.mean(baseline_key)), 3),
    }


def variety_figures() -> dict[str, float]:
    engine = ProceduralEngine()
    key = Key.parse("D minor")
    features = [
        style_features(engine.render(_spec(prompt, 110, key, 10.0, 1), lambda *_: None).stems["mix"], SAMPLE_RATE)
        for prompt in VARIETY_STYLES
    ]
    distances = np.array([[np.linalg.norm(a - b) for b in features] for a in features])
    np.fill_diagonal(distances, np.inf)
    nearest = distances.min(axis=1)
    return {
        f"distinct_styles_of_{len(VARIETY_STYLES)}": int((nearest > VARIETY_FLOOR).sum()),
        "variety_floor": VARIETY_FLOOR,
        "variety_nearest_neighbour_distance_min": round(float(nearest.min()), 3),
        "variety_nearest_neighbour_distance_median": round(float(np.median(nearest)), 3),
    }


def _cpu_seconds() -> float:
    """This process's CPU time plus that of its finished children (FluidSynth)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def procedural_figures() -> dict[str, float]:
    """Wall-clock figures are at the mercy of other load on a shared machine; the CPU figure
    (FluidSynth included) is what one free core would give."""
    engine = ProceduralEngine()
    spec = GenerationSpec(
        prompt="boom bap hip-hop",
        bpm=92,
        mood="",
        duration_seconds=AUDIO_SECONDS,
        key=Key.parse("A minor"),
        engine="procedural",
        seed=1,
    )
    engine.render(spec, lambda *_: None)  # warm-up (imports, allocator)
    render, cpu, total = [], [], []
    for seed in range(1, 6):
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        rendering = engine.render(GenerationSpec(**{**spec.__dict__, "seed": seed}), lambda *_: None)
        rendered, cpu_used = time.perf_counter(), _cpu_seconds() - cpu_started
        for stem in rendering.stems.values():
            codec.encode(stem, rendering.sample_rate, "FLAC")
        render.append(rendered - started)
        cpu.append(cpu_used)
        total.append(time.perf_counter() - started)
    return {
        "procedural_renderer_is_fluidsynth": int(rendering.renderer == "fluidsynth"),
        "procedural_realtime_factor": round(AUDIO_SECONDS / statistics.median(render), 1),
        "procedural_cpu_realtime_factor": round(AUDIO_SECONDS / statistics.median(cpu), 1),
        "procedural_with_flac_encoding_realtime_factor": round(AUDIO_SECONDS / statistics.median(total), 1),
    }


def operation_figures() -> dict[str, float]:
    """Each operation as the service runs it: the source commit's stems (FLAC, as stored) decoded and
    spliced into, decoding timed; beside it, in the same run, the same operation re-rendering its
    source from its spec (`_from_spec`, the path without the source's audio) and the source itself."""
    engine = ProceduralEngine()
    source = _spec("boom bap hip-hop", 92, Key.parse("A minor"), OPERATION_SOURCE_SECONDS, 1)
    bar = 240 / source.bpm
    middle = round(OPERATION_SOURCE_SECONDS / 2 / bar) * bar
    operations = {
        "continue_8_bars": Operation(CONTINUE, bars=OPERATION_BARS),
        "repaint_8_bars": Operation(REPAINT, start_seconds=middle, end_seconds=middle + OPERATION_BARS * bar),
    }
    engine.render(_spec("boom bap hip-hop", 92, Key.parse("A minor"), 10.0, 1), _quiet)  # warm-up
    rendered = engine.render(source, _quiet)
    stored = {name: codec.encode(stem, SAMPLE_RATE, "FLAC") for name, stem in rendered.stems.items() if name != "mix"}

    def committed_source() -> SourceAudio:
        return SourceAudio(
            {name: codec.decode(data)[0] for name, data in stored.items()}, SAMPLE_RATE, rendered.mix_scale
        )

    runs = {"source_render_3min": lambda seed: engine.render(source, _quiet)}
    for name, operation in operations.items():
        runs[name] = lambda seed, op=operation: engine.render(
            derive(source, op, seed=seed), _quiet, None, committed_source()
        )
        runs[f"{name}_from_spec"] = lambda seed, op=operation: engine.render(derive(source, op, seed=seed), _quiet)
    figures = {}
    for name, run_once in runs.items():
        times, cpu = [], []
        for seed in range(2, 2 + OPERATION_RUNS):
            started, cpu_started = time.perf_counter(), _cpu_seconds()
            run_once(seed)
            times.append(time.perf_counter() - started)
            cpu.append(_cpu_seconds() - cpu_started)
        figures[f"{name}_s"] = round(statistics.median(times), 2)
        figures[f"{name}_cpu_s"] = round(statistics.median(cpu), 2)
    for name in operations:
        figures[f"{name}_over_source_render_ratio"] = round(figures[f"{name}_s"] / figures["source_render_3min_s"], 2)
        figures[f"{name}_from_spec_over_source_render_ratio"] = round(
            figures[f"{name}_from_spec_s"] / figures["source_render_3min_s"], 2
        )
    return figures | _seam_figures(engine)


def _seam_figures(engine: ProceduralEngine) -> dict[str, float]:
    """Loop seams and continuation joins over the style prompts, beside naive splices."""
    key, bar = Key.parse("D minor"), 240 / SEAM_BPM
    found: dict[str, list[dict]] = {"loop": [], "loop_naive_cut": [], "continue": [], "continue_naive_append": []}
    for seed, prompt in enumerate(VARIETY_STYLES, start=1):
        source = _spec(prompt, SEAM_BPM, key, SEAM_SOURCE_BARS * bar, seed)
        mix = engine.render(source, _quiet).stems["mix"]
        loop = engine.render(derive(source, Operation(LOOP, bars=SEAM_LOOP_BARS, start_seconds=4 * bar)), _quiet)
        found["loop"].append(loop.report["seam_discontinuity"])
        cut = mix[round(4 * bar * SAMPLE_RATE) :][: len(loop.stems["mix"])]
        found["loop_naive_cut"].append(seam_figures(cut, SAMPLE_RATE, bar))
        continued = engine.render(derive(source, Operation(CONTINUE, bars=4), seed=seed + 100), _quiet)
        found["continue"].append(join_figures(continued.stems["mix"], SAMPLE_RATE, len(mix) / SAMPLE_RATE, bar))
        appended = engine.render(_spec(prompt, SEAM_BPM, key, 4 * bar, seed + 100), _quiet).stems["mix"]
        naive = np.concatenate([mix, appended])
        found["continue_naive_append"].append(join_figures(naive, SAMPLE_RATE, len(mix) / SAMPLE_RATE, bar))
    figures = {"seam_pieces": len(VARIETY_STYLES)}
    for name, values in found.items():
        prefix = "loop_seam" if name.startswith("loop") else "continue_join"
        suffix = name.removeprefix("loop").removeprefix("continue")
        for measure in ("sample_step_ratio", "spectral_change_ratio"):
            ratios = [value[measure] for value in values]
            figures[f"{prefix}_{measure}_median{suffix}"] = round(float(np.median(ratios)), 3)
            figures[f"{prefix}_{measure}_max{suffix}"] = round(float(np.max(ratios)), 3)
    return figures


def _quiet(*_) -> None:
    """A progress callback that ignores progress."""


async def _queue_figures(dsn: str) -> dict[str, float]:
    await apply_job_migrations(dsn)
    pool = await open_pool(DatabaseSettings(url=dsn, pool_max_size=20), application_name="bench-jobs")
    queue = JobQueue(pool, PageTokens("bench"))
    queued, changes = Notifications(dsn, QUEUED_CHANNEL), Notifications(dsn, CHANGED_CHANNEL)
    await queued.start()
    await changes.start()

    async def noop(context):
        return jobs_pb2.JobResult()

    ticks: list[float] = []

    async def ticking(context):
        for step in range(WATCH_EVENTS):
            await asyncio.sleep(0.03)
            ticks.append(time.perf_counter())
            await context.progress((step + 1) / WATCH_EVENTS, "tick", str(step))
        return jobs_pb2.JobResult()

    workers = [
        JobWorker(queue, {"bench.noop": noop, "bench.tick": ticking}, queued_notifications=queued, poll_seconds=5)
        for _ in range(4)
    ]
    runs = [asyncio.create_task(w.run()) for w in workers]
    figures: dict[str, float] = {}
    try:
        # Throughput: a backlog drained by 4 workers.
        started = time.perf_counter()
        backlog = [await queue.submit("bench.noop", "bench", {"n": n}) for n in range(THROUGHPUT_JOBS)]
        while sum(w.completed for w in workers) < THROUGHPUT_JOBS:
            await asyncio.sleep(0.01)
        figures["job_throughput_per_s_4_workers"] = round(THROUGHPUT_JOBS / (time.perf_counter() - started), 1)
        # Claim latency: idle workers woken by NOTIFY.
        latencies = []
        for n in range(LATENCY_JOBS):
            job = await queue.submit("bench.noop", "bench", {"n": n})
            while (current := await queue.get(job.job_id)).started_at is None:
                await asyncio.sleep(0.002)
            latencies.append((current.started_at - current.created_at).total_seconds() * 1000)
            await asyncio.sleep(0.02)
        figures["job_claim_latency_ms_median"] = round(statistics.median(latencies), 2)
        figures["job_claim_latency_ms_p99"] = round(_p99(latencies), 2)
        figures["job_backlog_size"] = len(backlog)
        figures.update(await _watch_latency(queue, changes, ticks))
    finally:
        for worker in workers:
            worker.stop()
        await asyncio.gather(*runs)
        await queued.close()
        await changes.close()
        await pool.close()
    return figures


async def _watch_latency(queue: JobQueue, changes: Notifications, ticks: list[float]) -> dict[str, float]:
    """Time from a worker's progress report to the WatchJob message reaching a gRPC client."""
    jobs = job_servicer.JobServicer(queue, changes)
    host = GrpcHost(
        ServiceSettings(grpc_port=0, auth=AUTH, shutdown_grace_seconds=1),
        [
            ServiceRegistration(
                job_servicer.SERVICE_NAME, lambda s: jobs_pb2_grpc.add_JobServiceServicer_to_server(jobs, s)
            )
        ],
        scopes=[rpc_outcome_scope, AuthScope(TokenVerifier(AUTH, "bench"))],
    )
    port = await host.start()
    delays = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = jobs_pb2_grpc.JobServiceStub(channel)
            job = await queue.submit("bench.tick", "bench", {})
            metadata = (("authorization", f"Bearer {TokenIssuer(AUTH).issue('bench', session_id='bench')}"),)
            async for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job.job_id), metadata=metadata):
                received = time.perf_counter()
                if event.job.progress.stage == "tick":
                    step = int(event.job.progress.message)
                    delays.append((received - ticks[step]) * 1000)
    finally:
        await host.stop()
    return {
        "watch_event_latency_ms_median": round(statistics.median(delays), 2),
        "watch_event_latency_ms_p99": round(_p99(delays), 2),
        "watch_events_received": len(delays),
    }


def run() -> dict[str, float]:
    configure_logging("WARNING")
    figures = procedural_figures()
    figures.update(operation_figures())
    figures.update(fidelity_figures())
    figures.update(variety_figures())
    base = reachable_tempdir("beatflow-bench-generator-")
    cluster = LocalPostgres(base / "pg", free_port())
    cluster.init()
    cluster.start(fsync=False)
    try:
        figures.update(asyncio.run(_queue_figures(cluster.dsn())))
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    return figures


def update_operation_figures() -> None:
    """Re-takes only the creative operations' figures into bench/results/generator.json."""
    from bench.__main__ import RESULTS_DIR, machine_description

    path = RESULTS_DIR / "generator.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures.update(operation_figures())
    figures["machine"] = machine_description()
    figures["operations_measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1:] != ["operations"]:
        raise SystemExit("usage: python -m bench.generator operations  (the whole area: python -m bench generator)")
    configure_logging("WARNING")
    update_operation_figures()
