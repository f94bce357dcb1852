"""Keeps the objects a service made while starting out of the garbage collector's later passes.

A service's start-up leaves millions of long-lived objects (every imported module, numpy and scipy in the
audio services, settings, stubs, descriptor pools). CPython's full collection traverses all of them, and it
stops the event loop while it does: measured in vcs under the gateway bench's load (16 callers), one full
collection took 122 ms, stalling every call in flight and setting the run's p99 by itself. Frozen, they are
never traversed again and a full collection only walks what serving made.

Freezing is for a service's own process once it is built (its `__main__`), not for a process that builds many
(tests): a frozen object in a reference cycle that later becomes garbage is never collected.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collects what start-up left as garbage, then freezes every object still alive; the number frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
