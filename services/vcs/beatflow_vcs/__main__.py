"""`python -m beatflow_vcs`: runs the vcs service until SIGTERM."""

from __future__ import annotations

import asyncio

from beatflow_platform.logging import configure_logging
from beatflow_platform.startup_heap import freeze_startup_heap
from beatflow_vcs.app import build_app
from beatflow_vcs.settings import VcsSettings


async def main() -> None:
    settings = VcsSettings()
    configure_logging(settings.log_level, json=settings.log_json, service=settings.service_name)
    app = await build_app(settings)
    freeze_startup_heap()
    await app.host.serve_until_signalled()


if __name__ == "__main__":
    asyncio.run(main())
