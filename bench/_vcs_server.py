"""A vcs server for bench areas: its own throwaway PostgreSQL cluster, the given object store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BenchVcs:
    port: int
    dsn: str


def _issuer_keys() -> dict:
    """A fresh Ed25519 token key for vcs, built here because older checkouts have no beatflow_platform.keys
    (their AuthSettings ignore these fields and sign with jwt_secret)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return {"token_signing_key": private, "token_signing_key_id": "bench", "token_public_keys": {"bench": public}}


@contextlib.asynccontextmanager
async def bench_vcs(base: Path, object_store) -> AsyncIterator[BenchVcs]:
    """vcs on 127.0.0.1 (its port and database DSN) over a PostgreSQL cluster under `base`;
    `object_store` is an ObjectStoreSettings. Imports lazily: the storage bench runs it on an older
    checkout of the services too."""
    from beatflow_devtools.network import free_port
    from beatflow_devtools.postgres import LocalPostgres
    from beatflow_platform.settings import AuthSettings, DatabaseSettings
    from beatflow_vcs.app import build_app
    from beatflow_vcs.settings import VcsSettings

    cluster = LocalPostgres(base / "pg", free_port())
    cluster.init()
    cluster.start(fsync=False)
    app = None
    try:
        settings = VcsSettings(
            grpc_port=0,
            database=DatabaseSettings(url=cluster.dsn()),
            object_store=object_store,
            auth=AuthSettings(jwt_secret="bench-secret-that-is-long-enough-0123456789", **_issuer_keys()),
            shutdown_grace_seconds=1,
            log_level="WARNING",
        )
        app = await build_app(settings)
        yield BenchVcs(await app.host.start(), cluster.dsn())
    finally:
        if app is not None:
            await app.host.stop()
        cluster.stop(mode="immediate")
