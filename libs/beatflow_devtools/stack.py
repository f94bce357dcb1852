"""`make run`: the whole stack on this machine, on embedded defaults.

Starts (or reuses) a PostgreSQL cluster under .beatflow/, applies every declared migration
set, prepares the filesystem object store and starts every declared service as its own
process, waits until each reports SERVING over gRPC health, then runs until Ctrl-C or
SIGTERM and stops everything. Data persists across runs.

Services declare themselves as `beatflow.services` entry points: name -> module run with
`python -m`. Each gets BEATFLOW_<NAME>_* settings for its port, the database, the object
store and the shared token secret.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import LocalPostgres
from beatflow_platform.db.catalog import declared_migration_sets
from beatflow_platform.db.migrations import migrate
from beatflow_platform.db.pool import connect

SERVICE_ENTRY_POINTS = "beatflow.services"
DATABASE = "beatflow"


@dataclass
class RunningService:
    name: str
    port: int
    process: subprocess.Popen


class LocalStack:
    def __init__(self, home: Path, postgres_port: int):
        self.home = home.resolve()
        self.postgres = LocalPostgres(self.home / "postgres", postgres_port)
        self.services: list[RunningService] = []

    def _secret(self) -> str:
        path = self.home / "jwt-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    async def start_database(self) -> str:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)  # the postgres system user must reach its data directory
        self.postgres.init()
        if not self.postgres.running:
            self.postgres.start()
        with psycopg.connect(self.postgres.dsn(), autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                admin.execute(f'CREATE DATABASE "{DATABASE}"')
        dsn = self.postgres.dsn(DATABASE)
        async with await connect(dsn) as conn:
            for migration_set in declared_migration_sets():
                await migrate(conn, migration_set.schema, migration_set.migrations)
        return dsn

    def start_services(self, dsn: str) -> None:
        secret = self._secret()
        entries = sorted(metadata.entry_points(group=SERVICE_ENTRY_POINTS), key=lambda e: e.name)
        ports = {entry.name: free_port() for entry in entries}
        for entry in entries:
            prefix = f"BEATFLOW_{entry.name.upper()}_"
            env = {
                **os.environ,
                f"{prefix}GRPC_PORT": str(ports[entry.name]),
                f"{prefix}DATABASE__URL": dsn,
                f"{prefix}OBJECT_STORE__ROOT": str(self.home / "objects"),
                f"{prefix}AUTH__JWT_SECRET": secret,
                f"{prefix}LOG_JSON": "false",
            }
            if "vcs" in ports:  # where services read and write blobs
                env[f"{prefix}VCS_ADDRESS"] = f"127.0.0.1:{ports['vcs']}"
            process = subprocess.Popen([sys.executable, "-m", entry.value], env=env)
            self.services.append(RunningService(entry.name, ports[entry.name], process))

    async def wait_until_serving(self, timeout: float = 120.0) -> None:
        async def serving(service: RunningService) -> None:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                while True:
                    if service.process.poll() is not None:
                        raise RuntimeError(f"{service.name} exited with {service.process.returncode}")
                    try:
                        response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
                        if response.status == health_pb2.HealthCheckResponse.SERVING:
                            return
                    except grpc.aio.AioRpcError:
                        pass
                    await asyncio.sleep(0.2)

        await asyncio.wait_for(asyncio.gather(*(serving(s) for s in self.services)), timeout)

    def stop(self) -> None:
        for service in self.services:
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for service in self.services:
            try:
                service.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.process.kill()
        self.postgres.stop()


def describe(stack: LocalStack, dsn: str) -> str:
    lines = ["BeatFlow is running:", f"  PostgreSQL   {dsn}", f"  blobs        {stack.home / 'objects'}"]
    lines += [f"  {s.name:<12} grpc://127.0.0.1:{s.port}" for s in stack.services]
    if not stack.services:
        lines.append("  (no services are declared yet; see README for what exists)")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    stack = LocalStack(Path(args.home), args.postgres_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        dsn = await stack.start_database()
        stack.start_services(dsn)
        await stack.wait_until_serving()
        print(describe(stack, dsn), flush=True)
        if not args.exit_when_ready:
            print("Press Ctrl-C to stop.", flush=True)
            await stop.wait()
    finally:
        print("stopping...", flush=True)
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=os.environ.get("BEATFLOW_HOME", ".beatflow"), help="data directory")
    parser.add_argument("--postgres-port", type=int, default=int(os.environ.get("BEATFLOW_POSTGRES_PORT", "55432")))
    parser.add_argument("--exit-when-ready", action="store_true", help="stop as soon as everything is serving")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
