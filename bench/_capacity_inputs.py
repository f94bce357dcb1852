"""What the capacity plan is driven by: figures read by name from bench/results/<area>.json, and
the assumptions no benchmark here can give (each one stated, and repeated in docs/capacity.md).

Change a figure (re-run its bench area) or an assumption and `python -m bench capacity` re-derives
the plan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from beatflow_platform.jobs.runtime import JobServiceSettings

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# area -> the figures the plan reads from bench/results/<area>.json
FIGURES_READ = {
    "generator": ("procedural_with_flac_encoding_realtime_factor", "job_throughput_per_s_4_workers"),
    "separator": ("dsp_separation_realtime_factor", "demucs_random_full_size_s_per_audio_min"),
    "analysis": ("analysis_s_per_audio_min",),
    "load": ("fair_claim_ms_median_1_owner", "fair_claim_ms_median_200_owners", "all_requests_per_s"),
    "vcs": ("history_page_ms_median",),
    "storage": ("commit_20_stems_transaction_ms_median", "s3_upload_200mb_announced_throughput_mb_per_s"),
}
# Each no-op job of `job_throughput_per_s_4_workers` is submitted, claimed and finished: three
# notifying writes (bench/generator.py times the submits and the drain together).
NOOP_JOB_WRITES = 3


@dataclass(frozen=True)
class Measured:
    figures: dict[str, float]
    cores: dict[str, int]  # area -> cores of the machine it was measured on

    def __getitem__(self, name: str) -> float:
        return self.figures[name]


def read_measured(results_dir: Path = RESULTS_DIR) -> Measured:
    figures: dict[str, float] = {}
    cores: dict[str, int] = {}
    for area, names in FIGURES_READ.items():
        path = results_dir / f"{area}.json"
        result = json.loads(path.read_text())
        missing = [name for name in names if name not in result]
        if missing:
            raise KeyError(f"{path} lacks {missing}: run `python -m bench {area}` first")
        figures.update({name: float(result[name]) for name in names})
        cores[area] = int(re.search(r"(\d+) cores", result["machine"]).group(1))
    return Measured(figures, cores)


@dataclass(frozen=True)
class Assumptions:
    """Everything the plan assumes rather than measures."""

    # Users: 1x is this many users active in the busiest hour; per active user and hour:
    base_users: int = 1_000
    generations_per_user_hour: float = 6.0
    musicgen_share: float = 0.3  # of generations; the rest are procedural
    generation_audio_s: tuple[float, float] = (15.0, 60.0)  # uniform
    separations_per_user_hour: float = 1.0
    demucs_share: float = 0.8  # of separations; the rest DSP
    analyses_per_user_hour: float = 2.0
    song_audio_s_median: float = 200.0  # lognormal, sigma below: separated and analysed songs
    song_audio_s_sigma: float = 0.35
    commits_per_user_hour: float = 10.0  # by hand; each generation also lands as one commit
    api_requests_per_user_hour: float = 240.0  # reads, polls, commits: the load mix's requests
    stem_downloads_per_user_hour: float = 6.0  # whole stems, song length
    # Engines on a GPU: not measured here (no GPU). MusicGen-small at twice real time and
    # HTDemucs at 40x real time on one L4-class GPU.
    musicgen_gpu_realtime_factor: float = 2.0
    demucs_gpu_realtime_factor: float = 40.0
    # Audio as stored: 16-bit stereo 44.1 kHz FLAC at 60 % of PCM; stems per result.
    stored_bytes_per_audio_s: float = 44_100 * 2 * 2 * 0.6
    stems_per_generation: int = 5  # four stems and the mix
    stems_per_separation: int = 4
    # PostgreSQL: cores of the queue database; the share of the measured machine's CPU that
    # PostgreSQL used while the no-op jobs drained (workers shared the cores); the time a notifying
    # commit holds the cluster-wide NOTIFY lock (it spans the WAL flush: a network SSD's fsync).
    db_cores: int = 16
    db_share_of_measured_cpu: float = 0.5
    notify_lock_hold_ms: float = 1.0
    # The same lock with `synchronous_commit = off` for progress and heartbeat writes.
    notify_lock_hold_ms_async: float = 0.05
    # Writes a job makes besides submit, claim and finish (its progress reports), and reads each
    # notification causes (one watcher per job re-reads the row).
    progress_writes: tuple[tuple[str, int], ...] = (("generate", 13), ("separate", 10), ("analyse", 3))
    watchers_per_job: int = 1
    # Every job-service process LISTENs on two channels (queued work, job changes), and PostgreSQL
    # signals each listening backend of a channel at every notifying commit.
    listen_channels_per_process: int = 2
    # PostgreSQL (up to 17) signals every listening backend of the database at each notifying
    # commit, inside the NOTIFY lock: a kill() per listener.
    notify_signal_us_per_listener: float = 2.0
    # Plan: p95 wait targets (submit to start), headroom, node sizes.
    target_p95_wait_s_cpu: float = 5.0
    target_p95_wait_s_gpu: float = 30.0
    max_utilisation: float = 0.7  # databases, API nodes and the object store are sized to this
    max_pool_utilisation: float = 0.85  # worker pools: bursts and a lost node
    cpu_node_cores: int = 16
    object_store_node_mb_per_s: float = 1000.0  # a MinIO node's usable network (about 10 Gbit/s)
    gpus_per_gpu_node: int = 1

    @property
    def heartbeat_s(self) -> float:
        return JobServiceSettings.model_fields["job_heartbeat_seconds"].default

    def progress(self, work: str) -> int:
        return dict(self.progress_writes)[work]
