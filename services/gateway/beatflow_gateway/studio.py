"""BeatFlow Studio, the web page: its static files (web/studio, shipped as package data) at /studio.

The files are plain ES modules, served as they are: gzip-compressed, revalidated by ETag on every
load (no-cache, so a new release is picked up at once), and with a Content-Security-Policy that keeps
the page on this origin: scripts and styles from here only, audio from here or from blob: URLs (the
player fetches renders with the bearer token a media element cannot send), WebSocket job progress
('self' covers ws:/wss: to this host), canvas waveforms.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PREFIX = "/studio"
# A link into the repository's web/studio (so the page is the same in a checkout and in the wheel).
STUDIO_DIR = Path(__file__).with_name("studio_web")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Module scripts need a JavaScript type; the platform's mimetypes table varies, so the page's own kinds are fixed.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}


class StudioFiles(StaticFiles):
    """StaticFiles with the page's content types, caching rule and security headers."""

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        content_type = CONTENT_TYPES.get(Path(full_path).suffix)
        if content_type:
            response.headers["Content-Type"] = content_type
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response


def mount(app: FastAPI) -> None:
    """Serves the studio at /studio/ (/studio redirects there); index.html for the folder."""
    app.mount(PREFIX, GZipMiddleware(StudioFiles(directory=STUDIO_DIR, html=True), minimum_size=512), name="studio")
