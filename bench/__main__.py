"""Runs benchmark areas and writes one flat JSON object of figures per area.

Each area is a module `bench/<area>.py` with `run() -> dict[str, float]`; figure names carry
their units. "machine" and "measured_at" are added here, and the machine's speed just before and after the area
(`machine_calibration_ms_before` / `_after`: bench/_calibration.py), to read timed figures against.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench._calibration import calibration_ms

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
# Areas run only when named: long ones (`make soak`; `python -m bench demucs`, an hour) and
# `musicgen_gpu`, which needs a CUDA device.
SLOW_AREAS = {"soak", "demucs", "musicgen_gpu"}
# Areas computed from the others' results, so they run after them.
DERIVED_AREAS = ("capacity",)


def available_areas() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.stem.startswith("_"))


def default_areas() -> list[str]:
    measured = [area for area in available_areas() if area not in SLOW_AREAS and area not in DERIVED_AREAS]
    return measured + [area for area in DERIVED_AREAS if area in available_areas()]


def machine_description() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "areas", nargs="*", help=f"areas to run, of {', '.join(available_areas())} (default: all but {SLOW_AREAS})"
    )
    areas = parser.parse_args().areas or default_areas()
    RESULTS_DIR.mkdir(exist_ok=True)
    for area in areas:
        module = importlib.import_module(f"bench.{area}")
        speed_before = calibration_ms()
        figures = module.run()
        result = {
            **figures,
            "machine_calibration_ms_before": speed_before,
            "machine_calibration_ms_after": calibration_ms(),
            "machine": machine_description(),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path = RESULTS_DIR / f"{area}.json"
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"{area}: {json.dumps(result, sort_keys=True)}")


if __name__ == "__main__":
    main()
