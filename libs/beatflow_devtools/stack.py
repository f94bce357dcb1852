"""`make run`: the whole stack on this machine, on embedded defaults.

Starts (or reuses) a PostgreSQL cluster under .beatflow/, applies every declared migration
set, prepares the filesystem object store and starts every declared service as its own
process, waits until each reports SERVING over gRPC health, then runs until Ctrl-C or
SIGTERM and stops everything. Data persists across runs.

While it runs, a service that exits is started again with exponential backoff (0.5 s doubling
to 30 s) and each restart is logged. Each process's pid is in <home>/run/<name>.pid:
`kill $(cat .beatflow/run/generator.pid)` restarts the generator (SIGTERM: it drains first).
`--scale generator=3` runs three generator processes, which share the job queue.

Services declare themselves as `beatflow.services` entry points: name -> module run with
`python -m`. Each gets BEATFLOW_<NAME>_* settings for its port, the database, the object
store, its page-token key (vcs has its own; the job services share one, as their JobServices
continue each other's lists) and only its own signing keys: Ed25519 pairs made on the first
start in <home>/keys (`beatflow_devtools.signing_keys`: vcs signs users' tokens, every other
gRPC service signs its own service tokens, the gateway holds none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
import httpx
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import LocalPostgres
from beatflow_devtools.signing_keys import ISSUER, StackKeys
from beatflow_devtools.supervisor import exited, spawn, stop_all, supervise_all
from beatflow_platform.db.catalog import declared_migration_sets
from beatflow_platform.db.migrations import migrate
from beatflow_platform.db.pool import connect

SERVICE_ENTRY_POINTS = "beatflow.services"
# Served over HTTP (health is GET /health); every other service speaks gRPC.
HTTP_SERVICES = {"gateway"}
DATABASE = "beatflow"
# Browser apps on the usual development servers of this machine (React and Next 3000, Angular 4200,
# Vite 5173, Vue CLI and webpack 8080) may call the gateway; BEATFLOW_GATEWAY_CORS_ORIGINS overrides.
DEV_CORS_ORIGINS = tuple(
    f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in (3000, 4200, 5173, 8080)
)
# Settings of one service (without its prefix) that its environment may override.
DEV_DEFAULTS = {"gateway": {"CORS_ORIGINS": json.dumps(DEV_CORS_ORIGINS)}}


async def _grpc_ready(port: int) -> bool:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            # typeshed's grpc_health stub declares no methods on HealthStub; the generated class has Check.
            stub = health_pb2_grpc.HealthStub(channel)
            response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=2)  # pyright: ignore[reportAttributeAccessIssue]
        except grpc.aio.AioRpcError:
            return False
    return response.status == health_pb2.HealthCheckResponse.SERVING


async def _http_ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
    except httpx.HTTPError:
        return False


def service_environment(name: str, port: int, shared: dict[str, str]) -> dict[str, str]:
    """The environment of one service: its dev defaults, then this process's environment, then
    `shared` settings and its port, all under the service's prefix (BEATFLOW_<NAME>_)."""
    prefix = f"BEATFLOW_{name.upper()}_"
    port_setting = "HTTP_PORT" if name in HTTP_SERVICES else "GRPC_PORT"
    return {
        **{prefix + key: value for key, value in DEV_DEFAULTS.get(name, {}).items()},
        **os.environ,
        **{prefix + key: value for key, value in shared.items()},
        prefix + port_setting: str(port),
    }


async def serving(service: str, port: int) -> bool:
    """Whether `service` (an entry point name) listening on `port` reports itself healthy."""
    return await (_http_ready(port) if service in HTTP_SERVICES else _grpc_ready(port))


@dataclass
class RunningService:
    """One process of a service: `name` is the service's name for its first process and
    <service>-<n> for the n-th (`--scale`); a restart starts a new process on the same port."""

    service: str
    name: str
    port: int
    spawn: Callable[[], subprocess.Popen] = field(repr=False)
    process: subprocess.Popen

    def respawn(self) -> None:
        self.process = self.spawn()

    async def serving(self) -> bool:
        return await serving(self.service, self.port)


def declared_services() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=SERVICE_ENTRY_POINTS), key=lambda e: e.name)


def scale_option(value: str) -> tuple[str, int]:
    """`--scale generator=3` -> ("generator", 3)."""
    name, _, count = value.partition("=")
    if name not in {entry.name for entry in declared_services()} or not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"NAME=COUNT with a service's name and a COUNT of at least 1, not {value!r}")
    return name, int(count)


def pid_file(home: Path, name: str) -> Path:
    """Where `make run` keeps the pid of the process `name` (generator, generator-2, ...)."""
    return home / "run" / f"{name}.pid"


class LocalStack:
    def __init__(self, home: Path, postgres_port: int, *, log_dir: Path | None = None):
        """`log_dir`: each service writes its output to <name>.log there instead of this terminal."""
        self.home = home.resolve()
        self.postgres = LocalPostgres(self.home / "postgres", postgres_port)
        self.services: list[RunningService] = []
        self.log_dir = log_dir

    def _secret(self, name: str) -> str:
        """A random key kept in <home>/<name> (made on the first start)."""
        path = self.home / name
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

    def start_services(
        self,
        dsn: str,
        *,
        gateway_port: int = 0,
        settings_env: dict[str, str] | None = None,
        scale: dict[str, int] | None = None,
    ) -> None:
        """Starts every declared service. `settings_env` adds settings for all of them, without
        their prefix (e.g. {"OBJECT_STORE__KIND": "s3"}). `scale` runs more than one process of a
        service, each on its own port; the others call the first."""
        entries = declared_services()
        callers = [e.name for e in entries if e.name not in HTTP_SERVICES and e.name != ISSUER]
        keys = StackKeys.in_directory(self.home / "keys", callers)
        # Page-token keys (auth.jwt_secret, named for history): vcs's own under the old file name.
        page_keys = {ISSUER: self._secret("jwt-secret"), **dict.fromkeys(callers, self._secret("jobs-page-secret"))}
        unknown = set(scale or {}) - {entry.name for entry in entries}
        if unknown:
            raise ValueError(f"no such service to scale: {', '.join(sorted(unknown))}")
        ports = {
            entry.name: gateway_port if entry.name in HTTP_SERVICES and gateway_port else free_port()
            for entry in entries
        }
        shared = {
            "DATABASE__URL": dsn,
            "OBJECT_STORE__ROOT": str(self.home / "objects"),
            "LOG_JSON": "false",
            # Where each service finds the others.
            **{
                f"{name.upper()}_ADDRESS": f"127.0.0.1:{port}"
                for name, port in ports.items()
                if name not in HTTP_SERVICES
            },
            **(settings_env or {}),
        }
        for entry in entries:
            for replica in range(1, (scale or {}).get(entry.name, 1) + 1):
                name = entry.name if replica == 1 else f"{entry.name}-{replica}"
                port = ports[entry.name] if replica == 1 else free_port()
                own = keys.environment(entry.name)
                if entry.name in page_keys:
                    own["AUTH__JWT_SECRET"] = page_keys[entry.name]
                env = service_environment(entry.name, port, {**shared, **own})
                command = [sys.executable, "-m", entry.value]
                start = self._spawner(name, command, env)
                self.services.append(RunningService(entry.name, name, port, start, start()))

    def _spawner(self, name: str, command: list[str], env: dict[str, str]) -> Callable[[], subprocess.Popen]:
        """Starts one process of `name` and writes its pid file; called again for each restart."""

        def start() -> subprocess.Popen:
            if not self.log_dir:
                process = spawn(command, env)
            else:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                with (self.log_dir / f"{name}.log").open("ab") as output:  # the child keeps its own descriptor
                    # Unbuffered, so that the file holds each line as soon as it is logged.
                    process = spawn(command, {**env, "PYTHONUNBUFFERED": "1"}, output)
            path = pid_file(self.home, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            written = path.with_suffix(".new")
            written.write_text(f"{process.pid}\n")
            written.replace(path)  # whoever reads it sees one pid or the other, never an empty file
            return process

        return start

    async def wait_until_serving(self, timeout: float = 120.0) -> None:
        async def until_serving(service: RunningService) -> None:
            while True:
                if exited(service.process):
                    raise RuntimeError(f"{service.name} exited with {service.process.wait()}")
                if await service.serving():
                    return
                await asyncio.sleep(0.2)

        await asyncio.wait_for(asyncio.gather(*(until_serving(s) for s in self.services)), timeout)

    def url(self, name: str) -> str:
        service = next(s for s in self.services if s.name == name)
        scheme = "http" if service.service in HTTP_SERVICES else "grpc"
        return f"{scheme}://127.0.0.1:{service.port}"

    def stop(self) -> None:
        stop_all(service.process for service in self.services)
        for service in self.services:
            pid_file(self.home, service.name).unlink(missing_ok=True)
        self.postgres.stop()


def describe(stack: LocalStack, dsn: str) -> str:
    lines = ["BeatFlow is running:", f"  PostgreSQL   {dsn}", f"  blobs        {stack.home / 'objects'}"]
    lines += [f"  {s.name:<12} {stack.url(s.name)}" for s in stack.services]
    if any(s.name == "gateway" for s in stack.services):
        api = stack.url("gateway")
        lines += [
            f"API docs: {api}/docs",
            "Try it:",
            f"  curl -s -X POST {api}/api/auth/register -H 'Content-Type: application/json' \\",
            """    -d '{"username":"demo","email":"demo@example.com","password":"a long password"}'""",
        ]
    lines += [
        "A service that exits is restarted (with backoff). To restart one yourself (it drains first):",
        f"  kill $(cat {pid_file(stack.home, 'generator')})",
        "To run more processes of one: make run ARGS='--scale generator=2'",
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    stack = LocalStack(Path(args.home), args.postgres_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The services run in process groups of their own: a closed terminal (SIGHUP) reaches only this
    # launcher, which must stop them as on Ctrl-C.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        dsn = await stack.start_database()
        stack.start_services(dsn, gateway_port=args.gateway_port, scale=dict(args.scale))
        await _unless_stopped(stop, stack.wait_until_serving())
        if stop.is_set():
            return
        print(describe(stack, dsn), flush=True)
        if not args.exit_when_ready:
            print("Press Ctrl-C to stop.", flush=True)
            await _unless_stopped(stop, supervise_all(stack.services))
    finally:
        print("stopping...", flush=True)
        stack.stop()


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
    """Runs `work` until it ends or `stop` is set, whichever comes first; raises what `work` raised."""
    working = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (working, stopping):
        task.cancel()
    await asyncio.gather(working, stopping, return_exceptions=True)
    if not working.cancelled():
        working.result()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", default=os.environ.get("BEATFLOW_HOME", ".beatflow"), help="data directory")
    parser.add_argument("--postgres-port", type=int, default=int(os.environ.get("BEATFLOW_POSTGRES_PORT", "55432")))
    parser.add_argument("--gateway-port", type=int, default=int(os.environ.get("BEATFLOW_GATEWAY_PORT", "8000")))
    parser.add_argument("--exit-when-ready", action="store_true", help="stop as soon as everything is serving")
    parser.add_argument(
        "--scale",
        type=scale_option,
        action="append",
        default=[],
        metavar="NAME=COUNT",
        help="run COUNT processes of service NAME (repeatable)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
