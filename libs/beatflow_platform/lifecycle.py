"""Process lifecycle: waiting for the signal that asks a service to stop."""

from __future__ import annotations

import asyncio
import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def until_signalled() -> None:
    """Returns when SIGTERM or SIGINT arrives (handlers are removed again afterwards)."""
    loop = asyncio.get_running_loop()
    received = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, received.set)
    try:
        await received.wait()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
