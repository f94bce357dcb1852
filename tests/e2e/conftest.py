"""The whole stack as real processes on 127.0.0.1: PostgreSQL, the S3 test server, vcs,
generator, separator and the gateway, started once for the e2e tests."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from beatflow_devtools.network import free_port
from beatflow_devtools.postgres import reachable_tempdir
from beatflow_devtools.stack import LocalStack


@dataclass
class User:
    username: str
    user_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Api:
    base_url: str
    client: httpx.AsyncClient
    users: dict[str, User] = field(default_factory=dict)

    async def user(self, role: str) -> User:
        """A new user per test and role ("alice", "bob", ...)."""
        if role not in self.users:
            name = f"{role}-{uuid.uuid4().hex[:8]}"
            response = await self.client.post(
                "/api/auth/register",
                json={"username": name, "email": f"{name}@example.com", "password": f"{role} has a long password"},
            )
            assert response.status_code == 201, response.text
            body = response.json()
            self.users[role] = User(name, body["user"]["user_id"], body["tokens"]["access_token"])
        return self.users[role]


@pytest.fixture(scope="session")
async def stack(moto_s3):
    base = reachable_tempdir("beatflow-e2e-")
    local = LocalStack(base / "home", free_port(), log_dir=base / "logs")
    s3 = {
        "OBJECT_STORE__KIND": "s3",
        "OBJECT_STORE__ENDPOINT": moto_s3.address,
        "OBJECT_STORE__ACCESS_KEY": moto_s3.access_key,
        "OBJECT_STORE__SECRET_KEY": moto_s3.secret_key,
        "OBJECT_STORE__BUCKET": "beatflow-e2e",
        "JOB_HEARTBEAT_SECONDS": "1",
    }

    try:
        dsn = await local.start_database()
        local.start_services(dsn, gateway_port=free_port(), settings_env=s3)
        await local.wait_until_serving(timeout=180)
        yield local
    finally:
        local.stop()
        for log in sorted((base / "logs").glob("*.log")):
            # Shown by pytest when something failed; the services' own account of it.
            print(f"--- {log.name} (last 40 lines)", *log.read_text(errors="replace").splitlines()[-40:], sep="\n")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def api(stack):
    base_url = stack.url("gateway")
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        yield Api(base_url, client)
