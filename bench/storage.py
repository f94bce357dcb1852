"""Object store figures: memory and throughput of a 50 MiB streamed upload of unknown length.

Each measurement runs in a fresh child process so that its peak RSS (ru_maxrss) belongs to
that upload alone; the S3 store talks to a nanio server in another process, so server memory
is not counted. Figures: peak RSS growth over the process's state just before the upload,
and the peak of Python allocations (tracemalloc) during it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

MIB = 1024 * 1024
UPLOAD_MIB = 50
CHUNK_BYTES = 256 * 1024


async def _upload(store) -> dict[str, float]:
    pattern = bytes(range(256)) * (CHUNK_BYTES // 256)

    async def stream():
        for index in range(UPLOAD_MIB * MIB // CHUNK_BYTES):
            yield index.to_bytes(4, "big") + pattern[4:]

    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.perf_counter()
    blob = await store.put(stream())
    elapsed = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert blob.size == UPLOAD_MIB * MIB
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline_kib
    return {
        "peak_rss_growth_mb": round(growth_kib / 1024, 2),
        "tracemalloc_peak_mb": round(traced_peak / MIB, 2),
        "throughput_mb_per_s": round(UPLOAD_MIB / elapsed, 1),
    }


async def _measure_in_child(kind: str, config: dict) -> dict[str, float]:
    from beatflow_platform.objectstore.filesystem import FilesystemObjectStore
    from beatflow_platform.objectstore.s3 import S3ObjectStore
    from beatflow_platform.settings import ObjectStoreSettings

    if kind == "filesystem":
        store = FilesystemObjectStore(Path(config["root"]))
    else:
        store = S3ObjectStore(ObjectStoreSettings(kind="s3", **config))
        await store.ensure_bucket()
        await store.check()
    return await _upload(store)


def _child(kind: str, config: dict) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.storage", "--child", kind, json.dumps(config)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run() -> dict[str, float]:
    from beatflow_devtools.s3servers import NanioS3

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, value in _child("filesystem", {"root": f"{tmp}/fs"}).items():
            figures[f"filesystem_upload_50mb_{name}"] = value
        server = NanioS3(Path(tmp) / "nanio")
        endpoint = server.start()
        try:
            config = {
                "endpoint": endpoint.address,
                "access_key": endpoint.access_key,
                "secret_key": endpoint.secret_key,
                "bucket": "bench",
            }
            for name, value in _child("s3", config).items():
                figures[f"s3_upload_50mb_{name}"] = value
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(asyncio.run(_measure_in_child(sys.argv[2], json.loads(sys.argv[3])))))
    else:
        print(json.dumps(run(), indent=2))
