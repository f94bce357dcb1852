"""`python -m beatflow_gateway`: the HTTP API on uvicorn, until SIGTERM."""

from __future__ import annotations

import uvicorn

from beatflow_gateway.app import create_app
from beatflow_gateway.settings import GatewaySettings
from beatflow_platform.logging import configure_logging


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, json=settings.log_json, service="gateway")
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        # One access line per request, ours (request_ids.py: with the request id and duration), not uvicorn's too.
        # Its event loop and HTTP parser are uvloop and httptools (uvicorn takes them when installed).
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
