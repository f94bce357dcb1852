"""The gateway's REST and Envoy's gRPC-JSON transcoder in front of the same services answer the same
requests with the same status and the same JSON (both derive the routes from the protos' rules)."""

from __future__ import annotations

import subprocess
import uuid

import httpx
import pytest
import yaml

from beatflow_devtools.network import free_port, wait_for_port
from beatflow_gateway.transcoding.rules import bindings
from beatflow_generator.app import build_app
from beatflow_generator.settings import GeneratorSettings
from tests.deploy.test_envoy import CONFIG, ENVOY, local_config
from tests.gateway.conftest import in_process_gateway
from tests.vcs.synthetic_notes import flac, melody, pitches

pytestmark = pytest.mark.slow


def test_envoy_routes_carry_the_protos_rest_options():
    """envoy.yaml's route metadata (success status, unwrapped response field) is what the protos say."""
    expected = {}
    for binding in bindings():
        conventions = {}
        if binding.success_status != 200:
            conventions["success_status"] = binding.success_status
        if binding.response_body:
            conventions["response_field"] = binding.response_body
        if conventions:
            expected[f"/{binding.method.containing_service.full_name}/{binding.method.name}"] = conventions
    config = yaml.safe_load(CONFIG.read_text())
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    configured = {
        route["match"]["path"]: route["metadata"]["filter_metadata"]["beatflow.rest_conventions"]
        for route in routes
        if "path" in route["match"]
    }
    assert configured == expected


@pytest.fixture
async def surfaces(job_service_factory, tmp_path):
    """(gateway, envoy): httpx clients on the in-process gateway and on Envoy, both in front of one vcs and one
    generator whose worker is off (jobs stay queued, so a job reads the same twice)."""
    generator = await job_service_factory(build_app, GeneratorSettings, worker_concurrency=0)
    vcs_port, port = generator.vcs.port, free_port()
    path = local_config(
        tmp_path,
        listen_port=port,
        admin_port=free_port(),
        upstreams={"vcs": vcs_port, "generator": generator.port, "separator": free_port()},
    )
    envoy = subprocess.Popen(
        [ENVOY, "-c", str(path), "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, timeout=30)
        async with (
            in_process_gateway(
                vcs_address=f"127.0.0.1:{vcs_port}",
                generator_address=f"127.0.0.1:{generator.port}",
                separator_address=f"127.0.0.1:{free_port()}",
            ) as gateway,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as through_envoy,
        ):
            yield gateway, through_envoy
    finally:
        envoy.terminate()
        envoy.wait(timeout=10)


async def same_answer(surfaces, method: str, url: str, **kwargs) -> httpx.Response:
    """Sends the request through both; asserts equal statuses and JSON bodies; returns the gateway's answer."""
    gateway, envoy = surfaces
    ours, theirs = await gateway.request(method, url, **kwargs), await envoy.request(method, url, **kwargs)
    assert (ours.status_code, ours.content and ours.json()) == (theirs.status_code, theirs.content and theirs.json()), (
        method,
        url,
    )
    return ours


async def test_the_same_requests_get_the_same_answers(surfaces):
    gateway, _ = surfaces
    registered = await gateway.post(
        "/api/auth/register", json={"username": "parity", "email": "parity@example.com", "password": "a long password"}
    )
    auth = {"Authorization": f"Bearer {registered.json()['tokens']['access_token']}"}
    # Writes carry a request id: the second surface's call is answered from the first's result.
    created = await same_answer(
        surfaces, "POST", "/api/repositories/create", json={"name": "Parity", "request_id": "r1"}, headers=auth
    )
    assert created.status_code == 201 and {"id", "created_at", "repo_id"} <= created.json().keys()
    repo_id = created.json()["id"]
    await same_answer(surfaces, "GET", f"/api/repositories/{repo_id}", headers=auth)
    await same_answer(surfaces, "GET", "/api/repositories", headers=auth)

    upload = await gateway.post(
        "/api/audio/upload", files={"file": ("keys.flac", flac(melody(pitches(3))), "audio/flac")}, headers=auth
    )
    stems = [{"name": "keys", "blob_id": upload.json()["blob_id"]}]
    commit = {"message": "first take", "stems": stems, "bpm": 96, "key_signature": "A minor", "request_id": "c1"}
    committed = await same_answer(surfaces, "POST", f"/api/vcs/commit/{repo_id}", json=commit, headers=auth)
    assert committed.status_code == 201 and committed.json()["stems"][0]["type"] == "keys"
    second = {"message": "second", "request_id": "c2"}
    await same_answer(surfaces, "POST", f"/api/vcs/commit/{repo_id}", json=second, headers=auth)
    history = await same_answer(surfaces, "GET", f"/api/vcs/history/{repo_id}", headers=auth)
    assert [c["message"] for c in history.json()["commits"]] == ["second", "first take"]
    assert history.json()["root"] == committed.json()["id"]
    await same_answer(surfaces, "GET", f"/api/vcs/commit/{committed.json()['id']}", headers=auth)
    await same_answer(surfaces, "GET", f"/api/vcs/repos/{repo_id}/log", params={"page_size": 1}, headers=auth)
    for surface, name in zip(surfaces, ("feature/bass", "feature/keys"), strict=True):
        made = await gateway.post(f"/api/vcs/repos/{repo_id}/branches", json={"name": name}, headers=auth)
        assert made.status_code == 201, made.text
        await same_answer(surfaces, "GET", f"/api/vcs/repos/{repo_id}/branches", headers=auth)
        deleted = await surface.delete(f"/api/vcs/repos/{repo_id}/branches/{name}", headers=auth)
        assert (deleted.status_code, deleted.content) == (204, b"")
    gone = await same_answer(surfaces, "DELETE", f"/api/vcs/repos/{repo_id}/branches/feature/bass", headers=auth)
    assert gone.status_code == 404

    queued = await gateway.post("/api/ai/generate", json={"prompt": "dub", "duration": 5}, headers=auth)
    status = await same_answer(surfaces, "GET", f"/api/ai/status/{queued.json()['task_id']}", headers=auth)
    assert status.json()["status"] == "pending" and status.json()["task_id"] == queued.json()["task_id"]

    missing = await same_answer(surfaces, "GET", f"/api/repositories/{uuid.uuid4()}", headers=auth)
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    assert {d["type"] for d in missing.json()["details"]} >= {"ErrorInfo", "ResourceInfo"}
    invalid = await same_answer(surfaces, "POST", "/api/repositories/create", json={"name": "bad/name"}, headers=auth)
    assert invalid.status_code == 400 and invalid.json()["code"] == "INVALID_ARGUMENT"
    assert any(d["type"] == "BadRequest" for d in invalid.json()["details"])
    anonymous = await same_answer(surfaces, "GET", f"/api/repositories/{repo_id}")
    assert anonymous.status_code == 404  # a private repository does not exist for strangers
    me = await same_answer(surfaces, "GET", "/api/auth/me", headers=auth)
    assert me.json()["username"] == "parity"  # the user itself (http_response_field)
    short = {"username": "parity-two", "email": "parity2@example.com", "password": "short"}
    assert (await same_answer(surfaces, "POST", "/api/auth/register", json=short)).status_code == 400
    never_issued = {"refresh_token": "never issued"}
    assert (await same_answer(surfaces, "POST", "/api/auth/logout", json=never_issued)).status_code == 401
    for surface in surfaces:  # signing out ends a session: one each
        signed_in = await surface.post("/api/auth/login", json={"login": "parity", "password": "a long password"})
        refresh = {"refresh_token": signed_in.json()["tokens"]["refresh_token"]}
        signed_out = await surface.post("/api/auth/logout", json=refresh)
        assert (signed_out.status_code, signed_out.content) == (204, b"")
