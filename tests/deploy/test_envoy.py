"""deploy/envoy/envoy.yaml: valid, and serving REST through the gRPC-JSON transcoder in front of a real vcs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from beatflow_devtools.network import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "envoy" / "envoy.yaml"
DESCRIPTOR_SET = ROOT / "gen" / "beatflow.pb"
ENVOY = str(Path(sys.executable).with_name("envoy"))


def local_config(tmp_path: Path, *, listen_port: int, admin_port: int, upstreams: dict[str, int]) -> Path:
    """The shipped config with the descriptor set and upstream addresses of this machine."""
    config = yaml.safe_load(CONFIG.read_text())
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"].update(address="127.0.0.1", port_value=listen_port)
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    transcoder = next(f for f in manager["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder")
    transcoder["typed_config"]["proto_descriptor"] = str(DESCRIPTOR_SET)
    config["admin"]["address"]["socket_address"]["port_value"] = admin_port
    for cluster in config["static_resources"]["clusters"]:
        for group in cluster["load_assignment"]["endpoints"]:
            for endpoint in group["lb_endpoints"]:
                socket = endpoint["endpoint"]["address"]["socket_address"]
                # Endpoints are named by service (the jobs cluster lists generator and separator).
                socket.update(address="127.0.0.1", port_value=upstreams.get(socket["address"], free_port()))
        cluster["type"] = "STATIC"
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_shipped_config_validates(tmp_path):
    path = local_config(tmp_path, listen_port=free_port(), admin_port=free_port(), upstreams={})
    result = subprocess.run([ENVOY, "--mode", "validate", "-c", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout + result.stderr


@pytest.fixture
async def envoy_in_front_of_vcs(vcs, tmp_path):
    port = free_port()
    path = local_config(tmp_path, listen_port=port, admin_port=free_port(), upstreams={"vcs": vcs.port})
    process = subprocess.Popen(
        [ENVOY, "-c", str(path), "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_rest_calls_through_the_transcoder(envoy_in_front_of_vcs):
    async with httpx.AsyncClient(base_url=envoy_in_front_of_vcs, timeout=30) as http:
        registered = await http.post(
            "/api/auth/register",
            json={"username": "envoyuser", "email": "envoy@example.com", "password": "a long password"},
        )
        assert registered.status_code == 201, registered.text  # Register's http_success_status, as the gateway
        token = registered.json()["tokens"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        created = await http.post(
            "/api/repositories/create", json={"name": "Via Envoy", "genre": "dub"}, headers=headers
        )
        assert created.status_code == 201, created.text  # the method's http_success_status
        repo_id = created.json()["repo_id"]  # its http_response_field unwrapped
        fetched = await http.get(f"/api/repositories/{repo_id}", headers=headers)
        assert fetched.json()["genre"] == "dub"
        hidden = await http.get(f"/api/repositories/{repo_id}")
        assert hidden.status_code == 404  # a private repository does not exist for anonymous readers
        refused = await http.post("/api/repositories/create", json={"name": "Anonymous"})
        assert refused.status_code == 401  # the gRPC status UNAUTHENTICATED, converted by the transcoder
