"""The load mix of `bench/load.py`: musicians who each own a repository and, between short
pauses, read it (repository, history, list), commit to it, submit short generations and poll
them. Run by locust in its own process (gevent)."""

from __future__ import annotations

import random
import uuid

import httpx
from locust import HttpUser, between, task

from tests.audio import tone

_TAKES = [tone(0.5, 220.0 * (1 + n / 12)) for n in range(4)]


class Musician(HttpUser):
    wait_time = between(0.05, 0.25)

    def on_start(self) -> None:
        """Signs up, creates a repository and uploads takes: outside the figures, which are the mix."""
        name = f"load-{uuid.uuid4().hex[:12]}"
        with httpx.Client(base_url=self.host, timeout=60) as setup:
            registered = setup.post(
                "/api/auth/register",
                json={"username": name, "email": f"{name}@example.com", "password": "a load test password"},
            ).json()
            setup.headers["Authorization"] = f"Bearer {registered['tokens']['access_token']}"
            self.repo_id = setup.post("/api/repositories/create", json={"name": "Load"}).json()["id"]
            self.blob_ids = [
                setup.post("/api/audio/upload", files={"file": ("take.wav", take, "audio/wav")}).json()["blob_id"]
                for take in _TAKES
            ]
        self.client.headers["Authorization"] = setup.headers["Authorization"]
        self.head = ""
        self.jobs: list[str] = []

    @task(5)
    def get_repository(self) -> None:
        self.client.get(f"/api/repositories/{self.repo_id}", name="GET /api/repositories/{id}")

    @task(3)
    def get_history(self) -> None:
        self.client.get(f"/api/vcs/history/{self.repo_id}?page_size=50", name="GET /api/vcs/history/{id}")

    @task(2)
    def list_repositories(self) -> None:
        self.client.get("/api/repositories?page_size=20", name="GET /api/repositories")

    @task(2)
    def commit(self) -> None:
        stems = [{"name": name, "blob_id": random.choice(self.blob_ids)} for name in ("drums", "bass")]
        body = {"message": "another take", "stems": stems, "parent_commit_id": self.head or None}
        response = self.client.post(f"/api/vcs/commit/{self.repo_id}", json=body, name="POST /api/vcs/commit/{id}")
        if response.status_code == 201:
            self.head = response.json()["id"]

    @task(1)
    def generate(self) -> None:
        body = {"prompt": "lofi beat with rhodes", "duration": 5, "seed": random.randrange(1_000_000)}
        with self.client.post(
            "/api/ai/generate", json=body, name="POST /api/ai/generate", catch_response=True
        ) as response:
            if response.status_code == 429:  # the user's queue limit holding, as meant: not an error
                response.success()
            elif response.status_code == 202:
                self.jobs.append(response.json()["task_id"])

    @task(2)
    def poll_job(self) -> None:
        if self.jobs:
            self.client.get(f"/api/ai/status/{random.choice(self.jobs)}", name="GET /api/ai/status/{id}")
