"""Soak figures: the load mix of bench/load.py for fifteen minutes, to show that latency holds
and memory settles. Not part of a plain `make bench`; run it with `make soak`."""

from __future__ import annotations

from bench import load


def run() -> dict[str, float]:
    return load.run(run_seconds=15 * 60)
