"""Calling BeatFlow from TypeScript: the code clients/typescript/buf.gen.yaml generates from the
contracts compiles with the example beside it, and the compiled example creates a repository in
a running vcs over gRPC."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from beatflow.vcs.v1 import repositories_pb2
from tests.fixtures.vcs import VcsUnderTest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "node_modules"


async def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *map(str, command), cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_generated_typescript_creates_a_repository(vcs: VcsUnderTest, tmp_path):
    work = tmp_path / "ts"
    work.mkdir()
    shutil.copy(ROOT / "clients" / "typescript" / "create_repository.ts", work)
    (work / "node_modules").symlink_to(TOOLS)
    (work / "package.json").write_text(json.dumps({"type": "module"}))
    tools_path = f"{TOOLS / '.bin'}:/usr/bin:/bin"
    await run(
        TOOLS / ".bin" / "buf", "generate", "--template", ROOT / "clients" / "typescript" / "buf.gen.yaml",
        "--output", work, cwd=ROOT / "protos", env={"PATH": tools_path, "HOME": str(tmp_path)},
    )  # fmt: skip
    await run(
        TOOLS / ".bin" / "tsc", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext",
        "--target", "es2022", "--types", "node", "--outDir", "js", "create_repository.ts", cwd=work,
    )  # fmt: skip
    shutil.copy(work / "package.json", work / "js")
    owner = await vcs.sign_up()
    output = await run(
        "node",
        "js/create_repository.js",
        f"127.0.0.1:{vcs.port}",
        owner.tokens.access_token,
        "From TypeScript",
        cwd=work,
    )
    repo_id = json.loads(output.splitlines()[-1])["repo_id"]
    found = await owner.repos.GetRepository(repositories_pb2.GetRepositoryRequest(repo_id=repo_id))
    assert (found.repository.name, found.repository.is_public) == ("From TypeScript", True)
