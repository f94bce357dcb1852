"""The gateway's HTTP and WebSocket API as the CLI uses it: errors become exit codes, an expired
access token is refreshed once, downloads resume with Range."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from beatflow_cli.config import Credentials

# Exit codes scripts can rely on.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_NOT_FOUND, EXIT_AUTH, EXIT_CONFLICT, EXIT_INVALID, EXIT_UNAVAILABLE, EXIT_JOB_FAILED = 3, 4, 5, 6, 7, 8
_EXIT_BY_STATUS = {
    400: EXIT_INVALID,
    401: EXIT_AUTH,
    403: EXIT_AUTH,
    404: EXIT_NOT_FOUND,
    409: EXIT_CONFLICT,
    413: EXIT_INVALID,
    415: EXIT_INVALID,
    416: EXIT_INVALID,
    429: EXIT_UNAVAILABLE,
}
CHUNK_BYTES = 1024 * 1024


class CliError(Exception):
    def __init__(self, message: str, exit_code: int, code: str = ""):
        super().__init__(message)
        self.message, self.exit_code, self.code = message, exit_code, code


class Api:
    def __init__(self, credentials: Credentials, api: str | None = None):
        self.credentials = credentials
        self.base = (api or credentials.api).rstrip("/")
        self._http = httpx.Client(base_url=self.base, timeout=httpx.Timeout(60, connect=5))

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        token = self.credentials.access_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _refresh(self) -> bool:
        if not self.credentials.refresh_token:
            return False
        response = self._http.post("/api/auth/refresh", json={"refresh_token": self.credentials.refresh_token})
        if response.status_code != 200:
            return False
        tokens = response.json()["tokens"]
        self.credentials.access_token = tokens["access_token"]
        self.credentials.refresh_token = tokens["refresh_token"]
        self.credentials.save()
        return True

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._http.request(
                method, path, headers={**self._headers(), **kwargs.pop("headers", {})}, **kwargs
            )
            if response.status_code == 401 and _reason(response) == "TOKEN_EXPIRED" and self._refresh():
                response = self._http.request(method, path, headers=self._headers(), **kwargs)
        except httpx.HTTPError as error:
            raise CliError(f"cannot reach {self.base}: {error}", EXIT_UNAVAILABLE) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def json(self, method: str, path: str, **kwargs) -> dict:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else {}

    def upload(self, path: Path) -> dict:
        with path.open("rb") as handle:
            return self.json("POST", "/api/audio/upload", files={"file": (path.name, handle)})

    def download(
        self,
        blob_id: str,
        target: Path,
        *,
        audio_format: str = "",
        on_progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Writes the blob to `target`, continuing a partial file with a Range request."""
        have = target.stat().st_size if target.exists() and not audio_format else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        params = {"format": audio_format} if audio_format else {}
        try:
            with self._http.stream(
                "GET", f"/api/audio/download/{blob_id}", params=params, headers={**self._headers(), **headers}
            ) as response:
                if response.status_code == 416 and have:
                    return have  # already complete
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                total = int(response.headers.get("content-range", "/0").rsplit("/", 1)[1] or 0) or int(
                    response.headers.get("content-length", 0)
                )
                mode = "ab" if response.status_code == 206 else "wb"
                written = have if mode == "ab" else 0
                with target.open(mode) as handle:
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        handle.write(chunk)
                        written += len(chunk)
                        if on_progress:
                            on_progress(written, total)
                return written
        except httpx.HTTPError as error:
            raise CliError(
                f"download interrupted ({error}); run the command again to resume", EXIT_UNAVAILABLE
            ) from None

    def watch(self, job_id: str) -> Iterator[dict]:
        """The job's events over the WebSocket until it ends."""
        url = self.base.replace("http://", "ws://").replace("https://", "wss://") + f"/ws/jobs/{job_id}"
        token = self.credentials.access_token
        subprotocols = [Subprotocol(f"bearer.{token}")] if token else None
        try:
            with connect(url, subprotocols=subprotocols, open_timeout=10) as socket:
                try:
                    for message in socket:
                        yield json.loads(message)
                except ConnectionClosed as closed:
                    if closed.rcvd and closed.rcvd.code not in (1000, 1001):
                        code = {4401: EXIT_AUTH, 4404: EXIT_NOT_FOUND}.get(closed.rcvd.code, EXIT_UNAVAILABLE)
                        raise CliError(closed.rcvd.reason or "the job stream closed", code) from None
        except (OSError, TimeoutError) as error:
            raise CliError(f"cannot reach {url}: {error}", EXIT_UNAVAILABLE) from None


def _reason(response: httpx.Response) -> str:
    try:
        details = response.json().get("details", [])
    except ValueError:
        return ""
    return next((d.get("reason", "") for d in details if d.get("type") == "ErrorInfo"), "")


def _error(response: httpx.Response) -> CliError:
    try:
        body = response.json()
        message, code = body.get("message", response.reason_phrase), body.get("code", "")
    except ValueError:
        message, code = response.text or response.reason_phrase, ""
    exit_code = _EXIT_BY_STATUS.get(response.status_code, EXIT_UNAVAILABLE if response.status_code >= 500 else 1)
    return CliError(f"{response.status_code} {code}: {message}", exit_code, code)
