"""What the services write to their logs while a user signs up, logs in, refreshes, watches a
job and fails a login: every request is there, and none of the secrets are."""

from __future__ import annotations

import json
import uuid

import websockets

from tests.e2e.conftest import Api


def _logs(stack) -> str:
    return "".join(path.read_text(errors="replace") for path in sorted(stack.log_dir.glob("*.log")))


async def test_no_secrets_in_logs(api: Api, stack, moto_s3):
    http = api.client
    name = f"secretive-{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    registered = (
        await http.post(
            "/api/auth/register", json={"username": name, "email": f"{name}@example.com", "password": password}
        )
    ).json()
    assert (await http.post("/api/auth/login", json={"login": name, "password": wrong_password})).status_code == 401
    login = (await http.post("/api/auth/login", json={"login": name, "password": password})).json()
    refreshed = (await http.post("/api/auth/refresh", json={"refresh_token": login["tokens"]["refresh_token"]})).json()
    access = refreshed["tokens"]["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    job = (await http.post("/api/ai/generate", json={"prompt": "dub techno", "duration": 5}, headers=headers)).json()
    url = api.base_url.replace("http://", "ws://") + f"/ws/jobs/{job['task_id']}?token={access}"
    async with websockets.connect(url) as socket:
        async for message in socket:
            last = json.loads(message)
    assert last["status"] == "success"
    assert (
        await http.post(
            "/api/auth/logout", json={"refresh_token": refreshed["tokens"]["refresh_token"]}, headers=headers
        )
    ).status_code == 204

    logs = _logs(stack)
    assert "/api/auth/login" in logs and job["task_id"] in logs, "the requests were logged"
    secrets = {
        "password": password,
        "wrong password": wrong_password,
        "first access token": registered["tokens"]["access_token"],
        "first refresh token": registered["tokens"]["refresh_token"],
        "login refresh token": login["tokens"]["refresh_token"],
        "access token": access,
        "refresh token": refreshed["tokens"]["refresh_token"],
        "token signature": access.rsplit(".", 1)[1],
        "JWT secret": (stack.home / "jwt-secret").read_text().strip(),
        "object store secret key": moto_s3.secret_key,
    }
    leaked = [what for what, value in secrets.items() if value in logs]
    assert leaked == []
