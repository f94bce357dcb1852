"""The beatflow-client distribution: built as a wheel, installed into a fresh virtual environment
with only its declared dependencies (pinned to requirements/base.txt), it has no engine in it and
talks to a running vcs through the SDK and the `beatflow` command."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest

from beatflow.vcs.v1 import repositories_pb2
from tests.fixtures.vcs import VcsUnderTest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# What a caller of the services must not be made to install.
ENGINE_DISTRIBUTIONS = {"torch", "numpy", "librosa", "transformers", "demucs", "psycopg", "minio", "fastapi"}

SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from beatflow.auth.v1 import auth_pb2
    from beatflow.vcs.v1 import repositories_pb2
    from beatflow_sdk import BeatFlow, Endpoints

    endpoints = Endpoints(vcs=sys.argv[1])
    with BeatFlow(endpoints) as anonymous:
        tokens = anonymous.auth.Register(
            auth_pb2.RegisterRequest(username="wheeluser", email="wheel@example.com", password="a long password")
        ).tokens
    with BeatFlow(endpoints, token=tokens.access_token) as client:
        request = repositories_pb2.CreateRepositoryRequest(name="From the wheel", is_public=True)
        repo = client.repositories.CreateRepository(request)
    print(json.dumps({"repo_id": repo.repository.repo_id}))
    """
)


async def run(*command: str | Path) -> str:
    process = await asyncio.create_subprocess_exec(
        *map(str, command), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    return output.decode()


@pytest.fixture(scope="module")
async def client_env(tmp_path_factory) -> Path:
    """A fresh virtual environment holding the beatflow-client wheel and its dependencies only."""
    base = tmp_path_factory.mktemp("client-wheel")
    await run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", base / "dist", ROOT / "clients" / "python",
    )  # fmt: skip
    (wheel,) = (base / "dist").glob("beatflow_client-*.whl")
    await run(sys.executable, "-m", "venv", base / "venv")
    python = base / "venv" / "bin" / "python"
    await run(python, "-m", "pip", "install", "--quiet", "-c", ROOT / "requirements" / "base.txt", wheel)
    return base / "venv"


async def test_the_client_wheel_installs_without_the_engines(client_env):
    listed = json.loads(await run(client_env / "bin" / "python", "-m", "pip", "list", "--format", "json"))
    installed = {package["name"].lower() for package in listed}
    assert {"beatflow-client", "grpcio", "protobuf", "httpx", "typer"} <= installed
    assert not installed & ENGINE_DISTRIBUTIONS, installed & ENGINE_DISTRIBUTIONS


async def test_the_installed_sdk_calls_a_running_vcs(client_env, vcs: VcsUnderTest, tmp_path):
    script = tmp_path / "call_vcs.py"
    script.write_text(SDK_SCRIPT)
    # Run from a folder outside the repository, so nothing of the source tree is importable.
    output = await run(client_env / "bin" / "python", "-I", script, f"127.0.0.1:{vcs.port}")
    repo_id = json.loads(output.splitlines()[-1])["repo_id"]
    caller = await vcs.sign_up()  # another user: the repository is public
    found = await caller.repos.GetRepository(repositories_pb2.GetRepositoryRequest(repo_id=repo_id))
    assert found.repository.name == "From the wheel", "the repository the wheel's SDK created is in vcs"


async def test_offline_commands_say_they_need_the_full_install(client_env, tmp_path):
    process = await asyncio.create_subprocess_exec(
        str(client_env / "bin" / "beatflow"), "analyze", "--offline", str(tmp_path / "take.wav"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    _, errors = await process.communicate()
    assert process.returncode == 6, errors.decode()
    assert "needs the full BeatFlow install" in errors.decode()
