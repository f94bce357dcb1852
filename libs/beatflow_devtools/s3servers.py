"""Real S3 endpoints on 127.0.0.1 for tests: moto's server and nanio (stricter about signatures)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from beatflow_devtools.network import free_port, wait_for_port


@dataclass(frozen=True)
class S3Endpoint:
    host: str
    port: int
    access_key: str
    secret_key: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class MotoS3:
    """moto's S3 server in a thread of this process (accepts any credentials)."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> S3Endpoint:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return S3Endpoint(host, port, "testing-access-key", "testing-secret-key")

    def stop(self) -> None:
        self._server.stop()


class NanioS3:
    """A nanio server process that checks SigV4 signatures against its own credentials."""

    def __init__(
        self, data_dir: Path, access_key: str = "nanio-access-key", secret_key: str = "nanio-secret-key-0123456789"
    ):
        self._data_dir = data_dir
        self._access_key = access_key
        self._secret_key = secret_key
        self._process: subprocess.Popen | None = None

    def start(self) -> S3Endpoint:
        port = free_port()
        env = {**os.environ, "NANIO_ACCESS_KEY": self._access_key, "NANIO_SECRET_KEY": self._secret_key}
        executable = Path(sys.executable).with_name("nanio")
        self._data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self._data_dir.parent / f"{self._data_dir.name}.log", "ab")  # noqa: SIM115 (owned by the child)
        self._process = subprocess.Popen(
            [
                str(executable),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(self._data_dir),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
        log.close()
        try:
            wait_for_port(port, timeout=30)
        except TimeoutError:
            self.stop()
            raise
        return S3Endpoint("127.0.0.1", port, self._access_key, self._secret_key)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
