"""A service freezes what its start-up left alive, so a full collection while it serves walks only what serving made."""

from __future__ import annotations

import json
import subprocess
import sys

# A process holding a large long-lived heap (as a service does after importing numpy, scipy and its stubs) times a
# full collection before and after freezing it. Run apart: freezing the test process's own heap would leak its cycles.
_PROGRAM = """
import gc, json, time
from beatflow_platform.startup_heap import freeze_startup_heap

startup_objects = [[index] for index in range(1_000_000)]

def full_collection_ms():
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000

before = min(full_collection_ms() for _ in range(3))
frozen = freeze_startup_heap()
serving_garbage = []
serving_garbage.append(serving_garbage)
del serving_garbage
collected = gc.collect()
after = min(full_collection_ms() for _ in range(3))
print(json.dumps({"before_ms": before, "after_ms": after, "frozen": frozen, "collected": collected,
                  "still_alive": len(startup_objects)}))
"""


def test_a_full_collection_after_the_freeze_skips_the_startup_heap():
    run = subprocess.run([sys.executable, "-c", _PROGRAM], capture_output=True, text=True, timeout=120, check=True)
    figures = json.loads(run.stdout)
    assert figures["frozen"] > 1_000_000 and figures["still_alive"] == 1_000_000
    assert figures["after_ms"] < figures["before_ms"] / 10, figures
    assert figures["collected"] >= 1, "a cycle made after the freeze is still collected"
