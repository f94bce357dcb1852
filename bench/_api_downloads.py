"""A take downloaded through the API, stored as chunks and whole: what chunking costs the download a user makes.

For each kind of store, two local stacks (Postgres, every service, the gateway; devtools' LocalStack) run side by
side, one storing lossless audio as chunks (the default) and one storing every blob whole
(`OBJECT_STORE__CHUNK_LOSSLESS_AUDIO=false`); on S3 both use the bench's S3 server, each its own bucket. The same
take is uploaded to both through the REST API, then downloaded through each gateway
(`GET /api/audio/download/{blob_id}`: the gateway, vcs's ReadBlob stream, the store), alternated, ROUNDS times
after one warm-up download each. The figures are the median speeds and their ratio.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx

from beatflow_devtools.network import free_port
from beatflow_devtools.stack import LocalStack
from beatflow_platform.objectstore.chunked import ChunkedAudioStore
from beatflow_platform.objectstore.factory import create_object_store
from beatflow_platform.settings import ObjectStoreSettings

ROUNDS = 7
MIB = 1024 * 1024


@asynccontextmanager
async def _stack(home: Path, store_env: dict[str, str]) -> AsyncIterator[str]:
    """A running local stack with the given object-store settings; yields the gateway's URL."""
    stack = LocalStack(home, free_port())
    try:
        dsn = await stack.start_database()
        stack.start_services(dsn, gateway_port=free_port(), settings_env={"LOG_LEVEL": "WARNING", **store_env})
        await stack.wait_until_serving()
        yield stack.url("gateway")
    finally:
        stack.stop()


async def _uploaded(http: httpx.AsyncClient, take: bytes) -> tuple[str, dict[str, str]]:
    """Registers a user and uploads the take; (its blob id, the user's auth headers)."""
    account = {"username": "bench", "email": "bench@example.com", "password": "bench password"}
    registered = (await http.post("/api/auth/register", json=account)).raise_for_status().json()
    headers = {"Authorization": f"Bearer {registered['tokens']['access_token']}"}
    uploaded = await http.post("/api/audio/upload", files={"file": ("take.wav", take, "audio/wav")}, headers=headers)
    return uploaded.raise_for_status().json()["blob_id"], headers


async def _download(
    http: httpx.AsyncClient, blob_id: str, headers: dict[str, str], on_piece: Callable[[bytes], object] | None = None
) -> int:
    """Streams the blob's download; its size (each piece also to `on_piece`, when given)."""
    received = 0
    async with http.stream("GET", f"/api/audio/download/{blob_id}", headers=headers) as response:
        response.raise_for_status()
        async for piece in response.aiter_raw():
            received += len(piece)
            if on_piece is not None:
                on_piece(piece)
    return received


async def _stored_as_chunks(store: dict[str, str], home: Path, blob_id: str) -> bool:
    """Whether the stack at `home` with object-store settings `store` keeps the blob as chunks (has its manifest)."""
    settings = ObjectStoreSettings(**{"root": home / "objects", **store, "chunk_lossless_audio": True})
    chunked = await create_object_store(settings)
    assert isinstance(chunked, ChunkedAudioStore)
    return await chunked.manifest(blob_id) is not None


async def download_figures(kind: str, take: bytes, tmp: Path, stores: dict[str, dict[str, str]]) -> dict[str, float]:
    """`stores`: for "chunked" and "whole", the object-store settings (ObjectStoreSettings' fields) of that stack."""
    speeds: dict[str, list[float]] = {"chunked": [], "whole": []}
    async with AsyncExitStack() as stacks:
        clients = {}
        for layout in speeds:
            home = tmp / f"api-{kind}-{layout}"
            env = {f"OBJECT_STORE__{name.upper()}": value for name, value in stores[layout].items()}
            gateway = await stacks.enter_async_context(_stack(home, env))
            http = await stacks.enter_async_context(httpx.AsyncClient(base_url=gateway, timeout=120))
            blob_id, headers = await _uploaded(http, take)
            assert await _stored_as_chunks(stores[layout], home, blob_id) == (layout == "chunked"), layout
            digest = hashlib.sha256()
            assert await _download(http, blob_id, headers, digest.update) == len(take), "the download is the upload"
            assert digest.hexdigest() == blob_id, "the download is the upload"
            clients[layout] = (http, blob_id, headers)
        order = list(clients.items())
        for round_ in range(ROUNDS):
            for layout, (http, blob_id, headers) in order if round_ % 2 == 0 else reversed(order):
                started = time.perf_counter()
                await _download(http, blob_id, headers)
                speeds[layout].append(len(take) / MIB / (time.perf_counter() - started))
    chunked, whole = (statistics.median(speeds[layout]) for layout in ("chunked", "whole"))
    return {
        f"api_chunked_download_mb_per_s_{kind}": round(chunked, 1),
        f"api_whole_download_mb_per_s_{kind}": round(whole, 1),
        f"api_chunked_over_whole_download_ratio_{kind}": round(chunked / whole, 3),
    }


def run(take: bytes, tmp: Path, s3: dict[str, str]) -> dict[str, float]:
    """The figures on the filesystem store and on the S3 server `s3` (endpoint, access_key, secret_key)."""
    whole = {"chunk_lossless_audio": "false"}
    s3_store = {"kind": "s3", **s3}
    stores = {
        "filesystem": {"chunked": {}, "whole": whole},
        "s3": {"chunked": {**s3_store, "bucket": "api-chunked"}, "whole": {**s3_store, **whole, "bucket": "api-whole"}},
    }
    figures: dict[str, float] = {}
    for kind, layouts in stores.items():
        figures |= asyncio.run(download_figures(kind, take, tmp, layouts))
    return figures
