"""The capacity simulation against queueing theory, and the plan's reading of the measured figures."""

from __future__ import annotations

import itertools
import json
import random
import shutil

import pytest

from bench import capacity
from bench._capacity_inputs import FIGURES_READ, RESULTS_DIR, Assumptions, read_measured
from bench._capacity_sim import (
    JobClass,
    erlang_c_mean_wait_s,
    erlang_c_wait_probability,
    servers_for,
    simulate_queue,
)


def _exponential(mean_s: float):
    return lambda rng: rng.expovariate(1 / mean_s)


def _mixed_classes(rate_scale: float = 1.0) -> list[JobClass]:
    return [
        JobClass("short", 2.0 * rate_scale, _exponential(0.5)),
        JobClass("long", 0.3 * rate_scale, lambda rng: rng.uniform(2.0, 8.0)),
    ]


def test_erlang_c_reduces_to_mm1():
    # M/M/1: an arrival waits with probability rho, for rho / (mu - lambda) on average.
    assert erlang_c_wait_probability(0.6, 1.0, 1) == pytest.approx(0.6)
    assert erlang_c_mean_wait_s(0.6, 1.0, 1) == pytest.approx(0.6 / 0.4)


def test_mmc_simulation_matches_erlang_c_and_littles_law():
    arrival_rate, service_rate, servers = 2.8, 1.0, 4  # utilisation 0.7
    run = simulate_queue([JobClass("job", arrival_rate, _exponential(1 / service_rate))], servers, jobs=200_000, seed=0)
    analytic_wait = erlang_c_mean_wait_s(arrival_rate, service_rate, servers)
    waits = run.waits
    simulated_wait = sum(waits) / len(waits)
    assert simulated_wait == pytest.approx(analytic_wait, rel=0.1)
    # Little's law: jobs waiting (counted at arrivals, independently of the waits) = lambda x W.
    assert run.mean_queue_length_seen == pytest.approx(arrival_rate * simulated_wait, rel=0.03)
    assert run.mean_queue_length_seen == pytest.approx(arrival_rate * analytic_wait, rel=0.1)
    waited = sum(wait > 0 for wait in waits) / len(waits)
    assert waited == pytest.approx(erlang_c_wait_probability(arrival_rate, service_rate, servers), abs=0.03)
    assert run.utilisation == pytest.approx(0.7, abs=0.02)


def test_more_workers_never_make_a_job_wait_longer():
    runs = [simulate_queue(_mixed_classes(), servers, jobs=5_000, seed=3) for servers in range(2, 7)]
    for fewer, more in itertools.pairwise(runs):
        for name in ("short", "long"):
            assert all(
                b <= a + 1e-9 for a, b in zip(fewer.waits_by_class[name], more.waits_by_class[name], strict=True)
            )
        assert more.p95_wait_s() <= fewer.p95_wait_s()
    assert runs[0].p95_wait_s() > runs[-1].p95_wait_s()


def test_a_seed_gives_the_same_run_and_another_seed_another():
    first = simulate_queue(_mixed_classes(), 3, jobs=3_000, seed=11)
    again = simulate_queue(_mixed_classes(), 3, jobs=3_000, seed=11)
    other = simulate_queue(_mixed_classes(), 3, jobs=3_000, seed=12)
    assert first == again
    assert first.waits != other.waits


def test_servers_for_is_the_fewest_that_meet_the_target():
    classes = _mixed_classes(rate_scale=4.0)
    servers = servers_for(classes, 1.0, jobs=5_000, seed=5)
    assert simulate_queue(classes, servers, jobs=5_000, seed=5).p95_wait_s() <= 1.0
    assert simulate_queue(classes, servers - 1, jobs=5_000, seed=5).p95_wait_s() > 1.0


def test_database_wait_grows_towards_the_ceiling():
    demand = capacity.DatabaseDemand(
        core_s=0.012, notifying_commits=14, lock_s=14 * 0.001, lock_s_async_progress=3 * 0.001, db_cores=16
    )
    p95s = [capacity.simulate_database(demand.lock_ceiling * load, demand, 16) for load in (0.3, 0.7, 0.95)]
    assert p95s == sorted(p95s)
    assert p95s[-1] > 3 * p95s[0]


def _results_copy(tmp_path):
    for area in FIGURES_READ:
        shutil.copy(RESULTS_DIR / f"{area}.json", tmp_path / f"{area}.json")
    return tmp_path


def _edit(path, **changes):
    result = json.loads(path.read_text())
    result.update(changes)
    path.write_text(json.dumps(result))


def test_the_plan_follows_the_measured_figures(tmp_path):
    results = _results_copy(tmp_path)
    assume = Assumptions()

    def db_ceilings():
        measured = read_measured(results)
        db = capacity.QueueDatabase.measured(measured, assume, assume.notify_lock_hold_ms)
        demand = capacity.database_demand(capacity.works(measured, assume), db, assume)
        return demand.cpu_ceiling, demand.lock_ceiling

    cpu_before, lock_before = db_ceilings()
    throughput = json.loads((results / "generator.json").read_text())["job_throughput_per_s_4_workers"]
    _edit(results / "generator.json", job_throughput_per_s_4_workers=throughput / 2)
    cpu_after, lock_after = db_ceilings()
    assert cpu_after == pytest.approx(cpu_before / 2)
    assert lock_after == pytest.approx(lock_before)  # the lock's hold is the WAL flush, not measured here


def test_a_missing_figure_is_named(tmp_path):
    results = _results_copy(tmp_path)
    separator = json.loads((results / "separator.json").read_text())
    del separator["dsp_separation_realtime_factor"]
    (results / "separator.json").write_text(json.dumps(separator))
    with pytest.raises(KeyError, match="dsp_separation_realtime_factor"):
        read_measured(results)


def test_pool_service_times_come_from_the_real_time_factors():
    measured = read_measured()
    assume = Assumptions()
    works = capacity.works(measured, assume)
    rng = random.Random(1)
    procedural = capacity.pool_classes(works, "generator_cpu", 3600, measured, assume)[0]
    draws = [procedural.service(rng) for _ in range(2000)]
    mean_audio_s = sum(assume.generation_audio_s) / 2
    render_s = mean_audio_s / measured["procedural_with_flac_encoding_realtime_factor"]
    stored_mb = mean_audio_s * assume.stems_per_generation * assume.stored_bytes_per_audio_s / 1e6
    expected = render_s + stored_mb / measured["s3_upload_200mb_announced_throughput_mb_per_s"]
    assert sum(draws) / len(draws) == pytest.approx(expected, rel=0.1)
    assert procedural.rate_per_s == pytest.approx(assume.generations_per_user_hour * (1 - assume.musicgen_share))


def test_the_plan_is_deterministic_and_meets_its_targets():
    figures = capacity.run()
    assert capacity.run() == figures
    assume = Assumptions()
    for scale in capacity.SCALES:
        for pool in capacity.POOLS:
            waits = [
                figures[f"scale_{scale}x_{pool}_p95_wait_s_at_{round(load * 100)}pct_users"]
                for load in capacity.CURVE_LOADS
            ]
            assert waits == sorted(waits)  # fewer users never wait longer
            assert waits[-1] <= capacity.target_s(pool, assume)
            assert figures[f"scale_{scale}x_{pool}_utilisation"] <= assume.max_pool_utilisation
    workers = [figures[f"scale_{scale}x_generator_gpu_workers"] for scale in capacity.SCALES]
    assert workers == sorted(workers)
    assert figures["capacity_jobs_per_s_ceiling"] <= figures["capacity_jobs_per_s_ceiling_async_progress"]
