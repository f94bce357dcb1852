"""A private PostgreSQL cluster in a directory, listening on 127.0.0.1 only.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` system
user and every server command runs through `runuser`; that user must be able to reach the
directory (a root-only 0700 parent such as pytest's tmp_path will not do).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "postgres"


def find_bindir() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if candidates:
        return Path(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise FileNotFoundError("PostgreSQL server binaries not found; install the postgresql package")


def reachable_tempdir(prefix: str) -> Path:
    """A new temporary directory the `postgres` user can enter (pytest's 0700 tmp_path cannot be)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


class LocalPostgres:
    def __init__(self, data_dir: Path, port: int, *, bindir: Path | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.socket_dir = self.data_dir.parent / f"{self.data_dir.name}-sockets"
        self.port = port
        self.bindir = bindir or find_bindir()
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def _prepare_directory(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Creates the cluster unless it exists (a second `make run` keeps its data)."""
        if self.initialised:
            return
        self._prepare_directory(self.data_dir)
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", SERVER_USER, "--no-sync", "-E", "UTF8")

    def start(self, *, fsync: bool = True) -> None:
        self._prepare_directory(self.socket_dir)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir}"
        if not fsync:
            # Throwaway test clusters: durability across a machine crash is irrelevant there.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.data_dir / "server.log"), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def log_tail(self, lines: int = 40) -> str:
        log = self.data_dir / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
