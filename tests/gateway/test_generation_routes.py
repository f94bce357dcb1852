"""/api/ai generation routes over a real generator and vcs: landing in a repository, operations, re-render."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from beatflow_generator.app import build_app
from beatflow_generator.settings import GeneratorSettings
from tests.gateway.conftest import in_process_gateway, signed_in
from tests.generator.test_hum import TUNE, sung


@pytest.fixture
async def http(job_service_factory):
    """A gateway (in-process) in front of a running generator and its vcs."""
    generator = await job_service_factory(build_app, GeneratorSettings)
    async with in_process_gateway(
        vcs_address=f"127.0.0.1:{generator.vcs.port}",
        generator_address=f"127.0.0.1:{generator.port}",
        separator_address=f"127.0.0.1:{generator.port}",
        call_timeout_seconds=10,
    ) as client:
        yield client


async def finished(http: httpx.AsyncClient, queued: httpx.Response, headers: dict) -> dict:
    assert queued.status_code == 202, queued.text
    for _ in range(600):
        job = (await http.get(f"/api/ai/status/{queued.json()['task_id']}", headers=headers)).json()
        if job["status"] in ("success", "failed", "cancelled"):
            assert job["status"] == "success", job
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("the job did not finish in 60 s")


async def test_generate_into_a_repository_then_continue_and_rerender_over_rest(http):
    headers = await signed_in(http)
    repo = (await http.post("/api/repositories/create", json={"name": "Rest session"}, headers=headers)).json()
    body = {"prompt": "funk with clavinet", "bpm": 100, "key": "E dorian", "duration": 6, "seed": 9}
    first = await finished(
        http, await http.post("/api/ai/generate", json={**body, "repo_id": repo["repo_id"]}, headers=headers), headers
    )
    landed = first["result"]["detail"]
    assert landed["branch"] == "main" and {m["name"] for m in landed["midi"]} == {
        s["name"] for s in landed["stems"] if s["name"] != "mix"
    }

    operation = {"kind": "continue", "bars": 2}
    more = await http.post(
        "/api/ai/generate",
        json={"repo_id": repo["repo_id"], "commit_id": landed["commit_id"], "branch": "longer", "operation": operation},
        headers=headers,
    )
    assert more.json()["request"]["operation"]["kind"] == "continue"
    continued = (await finished(http, more, headers))["result"]["detail"]
    commit = (
        await http.get(
            f"/api/vcs/commit/{continued['commit_id']}", params={"repo_id": repo["repo_id"]}, headers=headers
        )
    ).json()
    assert continued["branch"] == "longer" and commit["generation_params"]["source_commit_id"] == landed["commit_id"]

    again = await http.post(
        "/api/ai/rerender", json={"repo_id": repo["repo_id"], "commit_id": continued["commit_id"]}, headers=headers
    )
    rendered = (await finished(http, again, headers))["result"]["detail"]
    assert {s["name"]: s["blob"]["blob_id"] for s in rendered["stems"]} == {
        s["name"]: s["blob"]["blob_id"] for s in continued["stems"]
    }

    hummed = await http.post(
        "/api/ai/hum-to-beat",
        files={"file_upload": ("hum.wav", sung(TUNE, 0.5), "audio/wav")},
        params={"bpm": 120, "duration": 6, "repo_id": repo["repo_id"], "branch": "hummed"},
        headers=headers,
    )
    beat = (await finished(http, hummed, headers))["result"]["detail"]
    assert beat["branch"] == "hummed" and "hum" in {m["name"] for m in beat["midi"]}


async def test_operation_and_rerender_refusals(http):
    headers = await signed_in(http)
    repo = (await http.post("/api/repositories/create", json={"name": "Refusals"}, headers=headers)).json()
    shapes = [
        ({"operation": {"kind": "reverse"}}, "operation.kind"),
        ({"operation": {"kind": "loop", "bars": -1}}, "operation.bars"),
        ({"branch": "not a branch"}, "branch"),
    ]
    for extra, field in shapes:
        response = await http.post("/api/ai/generate", json={"prompt": "house", **extra}, headers=headers)
        assert response.status_code == 400 and f'"field":"{field}"' in response.text, (extra, response.text)
    missing_source = await http.post(
        "/api/ai/generate",
        json={"repo_id": repo["repo_id"], "operation": {"kind": "repaint", "start_seconds": 1, "end_seconds": 2}},
        headers=headers,
    )
    assert missing_source.status_code == 400 and "params.commit_id" in missing_source.text
    no_provenance = await http.post(
        "/api/ai/rerender", json={"repo_id": repo["repo_id"], "commit_id": "a" * 64}, headers=headers
    )
    assert no_provenance.status_code == 404
    assert (await http.post("/api/ai/rerender", json={"repo_id": repo["repo_id"]}, headers=headers)).status_code == 400
