"""Capacity plan past one machine, from a discrete-event simulation driven by the measured figures.

Reads service times from bench/results/*.json (bench/_capacity_inputs.py names each figure and
states every assumption), then:
- the queue database: PostgreSQL time per job (claim, notifying writes, the watcher's re-reads) and
  the cluster-wide NOTIFY lock every notifying commit holds across its WAL flush give
  `capacity_jobs_per_s_ceiling`; a statement-level simulation shows the wait growing towards it;
- the worker pools (procedural generation on CPU cores, MusicGen on GPUs, Demucs on GPUs, DSP
  separation and analysis on CPU cores) are sized by simulation to a p95 wait target for 1x, 10x and
  1,000x users, with p95 wait at 50 %, 80 % and 100 % of each user count, and the nodes they need;
- `capacity_users_per_gpu`: the users one MusicGen GPU worker serves within the GPU wait target.

Past one queue database's ceiling the plan partitions by owner hash into cells (a queue database
and its worker pools each), so a cell is simulated and multiplied. Deterministic for its seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from bench._capacity_inputs import NOOP_JOB_WRITES, Assumptions, Measured, read_measured
from bench._capacity_sim import JobClass, fifo_starts, percentile, servers_for, simulate_queue

SEED = 18
SIM_JOBS = 20_000
DB_SIM_STATEMENTS = 40_000
SCALES = (1, 10, 1000)
CURVE_LOADS = (0.5, 0.8, 1.0)
DB_CURVE_LOADS = (0.5, 0.8, 0.95)
# Worker pools as the plan deploys them: one per engine and device, so a 0.5 s procedural render
# never queues behind a 30 s MusicGen one.
POOLS = {
    "generator_cpu": ("procedural",),
    "generator_gpu": ("musicgen",),
    "separator_gpu": ("demucs",),
    "separator_cpu": ("dsp", "analyse"),
}
GPU_POOLS = ("generator_gpu", "separator_gpu")
# In the load mix (bench/_locustfile.py) one request in five reads a history page.
HISTORY_SHARE_OF_API = 0.2
NODE_KINDS = (
    "gpu_nodes",
    "cpu_worker_nodes",
    "api_nodes",
    "queue_cells",  # one queue database each
    "vcs_db_primaries",
    "vcs_read_replicas",
    "object_store_nodes",
)


@dataclass(frozen=True)
class Work:
    """One kind of job on one engine: how often a user asks for it and what one costs."""

    name: str
    family: str  # generate, separate or analyse: its progress reports
    per_user_hour: float
    audio_s: Callable[[random.Random], float]
    worker_s_per_audio_s: float
    stems_written: int


def works(measured: Measured, assume: Assumptions) -> dict[str, Work]:
    def generation(rng: random.Random) -> float:
        return rng.uniform(*assume.generation_audio_s)

    def song(rng: random.Random) -> float:
        return assume.song_audio_s_median * math.exp(rng.gauss(0, assume.song_audio_s_sigma))

    generations, separations = assume.generations_per_user_hour, assume.separations_per_user_hour
    all_works = [
        Work(
            "procedural",
            "generate",
            generations * (1 - assume.musicgen_share),
            generation,
            1 / measured["procedural_with_flac_encoding_realtime_factor"],
            assume.stems_per_generation,
        ),
        Work(
            "musicgen",
            "generate",
            generations * assume.musicgen_share,
            generation,
            1 / assume.musicgen_gpu_realtime_factor,
            assume.stems_per_generation,
        ),
        Work(
            "demucs",
            "separate",
            separations * assume.demucs_share,
            song,
            1 / assume.demucs_gpu_realtime_factor,
            assume.stems_per_separation,
        ),
        Work(
            "dsp",
            "separate",
            separations * (1 - assume.demucs_share),
            song,
            1 / measured["dsp_separation_realtime_factor"],
            assume.stems_per_separation,
        ),
        Work("analyse", "analyse", assume.analyses_per_user_hour, song, measured["analysis_s_per_audio_min"] / 60, 0),
    ]
    return {work.name: work for work in all_works}


@dataclass(frozen=True)
class QueueDatabase:
    """PostgreSQL's cost of jobs: core-seconds per statement and the NOTIFY lock's hold."""

    write_core_s: float
    claim_core_s: float
    notify_hold_s: float

    @classmethod
    def measured(cls, measured: Measured, assume: Assumptions, hold_ms: float) -> QueueDatabase:
        machine_s_per_write = 1 / (measured["job_throughput_per_s_4_workers"] * NOOP_JOB_WRITES)
        write_core_s = machine_s_per_write * measured.cores["generator"] * assume.db_share_of_measured_cpu
        claim_ratio = measured["fair_claim_ms_median_200_owners"] / measured["fair_claim_ms_median_1_owner"]
        return cls(write_core_s, write_core_s * claim_ratio, hold_ms / 1000)


@dataclass(frozen=True)
class JobCost:
    notifying_writes: float  # submit, claim, progress, heartbeats, finish: each commit NOTIFYs
    core_s: float


def job_cost(work: Work, mean_run_s: float, db: QueueDatabase, assume: Assumptions) -> JobCost:
    writes = 3 + assume.progress(work.family) + math.floor(mean_run_s / assume.heartbeat_s)
    reads = writes * assume.watchers_per_job  # a watcher re-reads the row at each notification
    return JobCost(writes, db.claim_core_s + (writes - 1 + reads) * db.write_core_s)


def mean_audio_s(work: Work, draws: int = 4000) -> float:
    rng = random.Random(SEED)
    return sum(work.audio_s(rng) for _ in range(draws)) / draws


def mean_run_s(work: Work) -> float:
    return mean_audio_s(work) * work.worker_s_per_audio_s


def jobs_per_user_s(all_works: dict[str, Work]) -> float:
    return sum(work.per_user_hour for work in all_works.values()) / 3600


@dataclass(frozen=True)
class DatabaseDemand:
    """What the mix's average job asks of one queue database, and the jobs per second it allows."""

    core_s: float
    notifying_commits: float
    lock_s: float  # holding the cluster-wide NOTIFY lock, every commit synchronous
    lock_s_async_progress: float  # the same with progress and heartbeats at synchronous_commit off
    db_cores: int

    @property
    def cpu_ceiling(self) -> float:
        return self.db_cores / self.core_s

    @property
    def lock_ceiling(self) -> float:
        return 1 / self.lock_s

    @property
    def ceiling(self) -> float:
        return min(self.cpu_ceiling, self.lock_ceiling)

    @property
    def improved_ceiling(self) -> float:
        return min(self.cpu_ceiling, 1 / self.lock_s_async_progress)


def database_demand(all_works: dict[str, Work], db: QueueDatabase, assume: Assumptions) -> DatabaseDemand:
    """Per job of the mix. Submit, claim and finish always commit synchronously."""
    total = sum(work.per_user_hour for work in all_works.values())
    async_hold_s = assume.notify_lock_hold_ms_async / 1000
    core_s = commits = lock_s = lock_s_async = 0.0
    for work in all_works.values():
        share = work.per_user_hour / total
        cost = job_cost(work, mean_run_s(work), db, assume)
        core_s += share * cost.core_s
        commits += share * cost.notifying_writes
        lock_s += share * cost.notifying_writes * db.notify_hold_s
        lock_s_async += share * (3 * db.notify_hold_s + (cost.notifying_writes - 3) * async_hold_s)
    return DatabaseDemand(core_s, commits, lock_s, lock_s_async, assume.db_cores)


def simulate_database(jobs_per_s: float, demand: DatabaseDemand, db_cores: int) -> float:
    """p95 response (ms) of a queue commit: executed on the database's cores, then committed one at a
    time under the NOTIFY lock (in the order executions end)."""
    rng = random.Random(SEED)
    core_s = demand.core_s / demand.notifying_commits
    hold_s = demand.lock_s / demand.notifying_commits
    rate = jobs_per_s * demand.notifying_commits
    arrivals, services = [], []
    now = 0.0
    for _ in range(DB_SIM_STATEMENTS):
        now += rng.expovariate(rate)
        arrivals.append(now)
        services.append(rng.expovariate(1 / core_s))
    starts = fifo_starts(arrivals, services, db_cores)
    executed = [start + service for start, service in zip(starts, services, strict=True)]
    order = sorted(range(len(executed)), key=executed.__getitem__)
    locked = fifo_starts([executed[i] for i in order], [hold_s] * len(order), 1)
    responses = [start + hold_s - arrivals[i] for start, i in zip(locked, order, strict=True)]
    return percentile(responses[len(responses) // 10 :], 95) * 1000


def pool_classes(
    all_works: dict[str, Work], pool: str, users: float, measured: Measured, assume: Assumptions
) -> list[JobClass]:
    # A worker claims (among many owners), then finishes (a write about as dear as a one-owner claim).
    overhead_s = (measured["fair_claim_ms_median_200_owners"] + measured["fair_claim_ms_median_1_owner"]) / 1000
    upload_mb_per_s = measured["s3_upload_200mb_announced_throughput_mb_per_s"]

    def service(work: Work, bytes_per_audio_s: float) -> Callable[[random.Random], float]:
        def draw(rng: random.Random) -> float:
            audio_s = work.audio_s(rng)
            upload_s = audio_s * work.stems_written * bytes_per_audio_s / 1e6 / upload_mb_per_s
            return overhead_s + audio_s * work.worker_s_per_audio_s + upload_s

        return draw

    return [
        JobClass(
            name,
            users * all_works[name].per_user_hour / 3600,
            service(all_works[name], assume.stored_bytes_per_audio_s),
        )
        for name in POOLS[pool]
    ]


def target_s(pool: str, assume: Assumptions) -> float:
    return assume.target_p95_wait_s_gpu if pool in GPU_POOLS else assume.target_p95_wait_s_cpu


def users_per_gpu(all_works: dict[str, Work], measured: Measured, assume: Assumptions) -> int:
    """The most users whose MusicGen jobs one GPU worker runs within the GPU p95 wait target."""

    def meets(users: int) -> bool:
        classes = pool_classes(all_works, "generator_gpu", users, measured, assume)
        return simulate_queue(classes, 1, jobs=SIM_JOBS, seed=SEED).p95_wait_s() <= assume.target_p95_wait_s_gpu

    work = all_works["musicgen"]
    low, high = 0, math.ceil(3600 / (work.per_user_hour * mean_run_s(work)))  # high: the GPU always busy
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if meets(middle) else (low, middle)
    return low


def plan_scale(
    scale: int, all_works: dict[str, Work], measured: Measured, assume: Assumptions, demand: DatabaseDemand
) -> dict[str, float]:
    """Nodes for `scale` x users, with progress written asynchronously past one queue database."""
    users = assume.base_users * scale
    jobs_per_s = users * jobs_per_user_s(all_works)
    cells = math.ceil(jobs_per_s / (demand.improved_ceiling * assume.max_utilisation))
    figures: dict[str, float] = {
        "users": users,
        "jobs_per_s": round(jobs_per_s, 2),
        "queue_cells": cells,
        "queue_cells_sync_progress": math.ceil(jobs_per_s / (demand.ceiling * assume.max_utilisation)),
        "queue_jobs_per_s_per_cell": round(jobs_per_s / cells, 1),
    }
    workers = size_pools(users / cells, all_works, measured, assume, figures)
    figures.update(notify_fan_out(jobs_per_s / cells, sum(workers.values()), demand, assume))
    figures["gpu_nodes"] = math.ceil(sum(workers[p] for p in GPU_POOLS) * cells / assume.gpus_per_gpu_node)
    cpu_workers = (workers["generator_cpu"] + workers["separator_cpu"]) * cells
    figures["cpu_worker_nodes"] = math.ceil(cpu_workers / assume.cpu_node_cores)
    figures.update(platform_nodes(users, all_works, measured, assume))
    figures["nodes_total"] = sum(figures[name] for name in NODE_KINDS)
    return {f"scale_{scale}x_{name}": value for name, value in figures.items()}


def size_pools(
    cell_users: float, all_works: dict[str, Work], measured: Measured, assume: Assumptions, figures: dict
) -> dict[str, int]:
    """Workers per pool of one cell, by simulation; adds totals, the p95 wait curve and utilisation."""
    cells = figures["queue_cells"]
    workers: dict[str, int] = {}
    for pool in POOLS:
        classes = pool_classes(all_works, pool, cell_users, measured, assume)
        workers[pool] = servers_for(
            classes, target_s(pool, assume), jobs=SIM_JOBS, seed=SEED, max_utilisation=assume.max_pool_utilisation
        )
        figures[f"{pool}_workers"] = workers[pool] * cells
        for load in CURVE_LOADS:
            classes = pool_classes(all_works, pool, cell_users * load, measured, assume)
            run = simulate_queue(classes, workers[pool], jobs=SIM_JOBS, seed=SEED)
            figures[f"{pool}_p95_wait_s_at_{round(load * 100)}pct_users"] = round(run.p95_wait_s(), 2)
        figures[f"{pool}_utilisation"] = round(run.utilisation, 3)
    return workers


def notify_fan_out(jobs_per_s: float, workers: int, demand: DatabaseDemand, assume: Assumptions) -> dict[str, float]:
    """If every worker process LISTENs (as today): each notifying commit signals all of them, inside
    the NOTIFY lock, so the lock's hold and the cell's ceiling follow the worker count."""
    listeners = workers * assume.listen_channels_per_process
    hold_ms = assume.notify_lock_hold_ms + listeners * assume.notify_signal_us_per_listener / 1000
    return {
        "notify_deliveries_per_s_per_cell": round(jobs_per_s * demand.notifying_commits * listeners),
        "notify_lock_hold_ms_all_workers_listening": round(hold_ms, 2),
        "queue_jobs_per_s_ceiling_all_workers_listening": round(1000 / (demand.notifying_commits * hold_ms), 1),
    }


def platform_nodes(
    users: float, all_works: dict[str, Work], measured: Measured, assume: Assumptions
) -> dict[str, float]:
    """API nodes, vcs databases and the object store for `users`."""
    api_per_node = measured["all_requests_per_s"] / measured.cores["load"] * assume.cpu_node_cores
    api_per_s = users * assume.api_requests_per_user_hour / 3600
    commits_per_s = users * (assume.commits_per_user_hour + assume.generations_per_user_hour) / 3600
    commit_cores = commits_per_s * measured["commit_20_stems_transaction_ms_median"] / 1000
    history_cores = api_per_s * HISTORY_SHARE_OF_API * measured["history_page_ms_median"] / 1000
    db_cores = assume.db_cores * assume.max_utilisation
    figures = {
        "api_requests_per_s": round(api_per_s, 1),
        "api_nodes": max(2, math.ceil(api_per_s / (api_per_node * assume.max_utilisation))),
        "vcs_db_primary_cores_busy": round(commit_cores, 2),
        "vcs_db_primaries": math.ceil(commit_cores / db_cores),
        "vcs_read_replicas": math.ceil(history_cores / db_cores),
        **object_store(all_works, users, assume),
    }
    store_mb_per_s = figures["object_store_write_mb_per_s"] + figures["object_store_read_mb_per_s"]
    store_node_mb_per_s = assume.object_store_node_mb_per_s * assume.max_utilisation
    figures["object_store_nodes"] = max(4, math.ceil(store_mb_per_s / store_node_mb_per_s))  # erasure sets of 4+
    return figures


def object_store(all_works: dict[str, Work], users: float, assume: Assumptions) -> dict[str, float]:
    written = sum(users * w.per_user_hour / 3600 * mean_audio_s(w) * w.stems_written for w in all_works.values())
    read = users * assume.stem_downloads_per_user_hour / 3600 * assume.song_audio_s_median
    return {
        "object_store_write_mb_per_s": round(written * assume.stored_bytes_per_audio_s / 1e6, 1),
        "object_store_read_mb_per_s": round(read * assume.stored_bytes_per_audio_s / 1e6, 1),
        "object_store_new_tb_per_busy_hour": round(written * assume.stored_bytes_per_audio_s * 3600 / 1e12, 3),
    }


def gpu_minutes_per_user_hour(all_works: dict[str, Work]) -> float:
    return sum(all_works[name].per_user_hour * mean_run_s(all_works[name]) / 60 for name in ("musicgen", "demucs"))


def shared_pool_penalty(all_works, measured: Measured, assume: Assumptions) -> dict[str, float]:
    """Procedural jobs on the MusicGen GPU workers (one generator pool, as the chart deploys it) at 1x."""
    users = assume.base_users
    gpus = servers_for(
        pool_classes(all_works, "generator_gpu", users, measured, assume),
        assume.target_p95_wait_s_gpu,
        jobs=SIM_JOBS,
        seed=SEED,
    )
    shared = pool_classes(all_works, "generator_gpu", users, measured, assume) + pool_classes(
        all_works, "generator_cpu", users, measured, assume
    )
    run = simulate_queue(shared, gpus, jobs=SIM_JOBS, seed=SEED)
    cpu = pool_classes(all_works, "generator_cpu", users, measured, assume)
    cores = servers_for(cpu, assume.target_p95_wait_s_cpu, jobs=SIM_JOBS, seed=SEED)
    split = simulate_queue(cpu, cores, jobs=SIM_JOBS, seed=SEED)
    return {
        "shared_generator_pool_procedural_p95_wait_s_1x": round(run.p95_wait_s("procedural"), 2),
        "split_generator_pool_procedural_p95_wait_s_1x": round(split.p95_wait_s(), 2),
    }


def run(assume: Assumptions | None = None, measured: Measured | None = None) -> dict[str, float]:
    assume = assume or Assumptions()
    measured = measured or read_measured()
    all_works = works(measured, assume)
    db = QueueDatabase.measured(measured, assume, assume.notify_lock_hold_ms)
    demand = database_demand(all_works, db, assume)
    ceiling, improved_ceiling = demand.ceiling, demand.improved_ceiling
    per_user = jobs_per_user_s(all_works)
    figures: dict[str, float] = {
        "capacity_jobs_per_s_ceiling": round(ceiling, 1),
        "capacity_jobs_per_s_ceiling_db_cpu": round(demand.cpu_ceiling, 1),
        "capacity_jobs_per_s_ceiling_notify_lock": round(demand.lock_ceiling, 1),
        "capacity_jobs_per_s_ceiling_async_progress": round(improved_ceiling, 1),
        "capacity_users_per_queue_db": math.floor(ceiling * assume.max_utilisation / per_user),
        "capacity_users_per_queue_db_async_progress": math.floor(improved_ceiling * assume.max_utilisation / per_user),
        "capacity_users_per_gpu": users_per_gpu(all_works, measured, assume),
        "db_core_ms_per_job": round(demand.core_s * 1000, 3),
        "db_notifying_commits_per_job": round(demand.notifying_commits, 2),
        "gpu_minutes_per_active_user_hour": round(gpu_minutes_per_user_hour(all_works), 2),
        "jobs_per_active_user_hour": round(per_user * 3600, 2),
    }
    for load in DB_CURVE_LOADS:
        p95_ms = simulate_database(ceiling * load, demand, assume.db_cores)
        figures[f"db_commit_p95_ms_at_{round(load * 100)}pct_ceiling"] = round(p95_ms, 2)
    figures.update(shared_pool_penalty(all_works, measured, assume))
    for scale in SCALES:
        figures.update(plan_scale(scale, all_works, measured, assume, demand))
    return figures
