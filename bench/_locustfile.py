"""The load mix of `bench/load.py`: musicians who each own a repository and, between short
pauses, read it (repository, history, list), commit to it, submit short generations and poll
them. Run by locust in its own process (gevent).

The mix starts when every user is set up (signed up, with a repository and takes): locust's
figures are reset then, so they count the mix alone, and with `--mix-seconds` the run stops that
long after (`--run-time` then only bounds the setup).
"""

from __future__ import annotations

import logging
import random
import time
import uuid

import gevent
import httpx
from gevent.event import Event
from locust import HttpUser, between, events, task
from locust.env import Environment

from tests.audio import tone

_TAKES = [tone(0.5, 220.0 * (1 + n / 12)) for n in range(4)]


class SetupFailed(RuntimeError):
    """A user's sign-up, repository or upload before the mix was refused."""


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument(
        "--mix-seconds", type=float, default=0.0, help="stop this long after every user is set up (0: at --run-time)"
    )


class _SetupBarrier:
    """Holds every user at the end of its setup until all are set up, then starts the mix."""

    def __init__(self) -> None:
        self._created = time.monotonic()
        self._arrived = 0
        self._everyone = Event()

    def arrive_and_wait(self, environment: Environment) -> None:
        self._arrived += 1  # gevent: one thread, no lock needed
        runner = environment.runner
        assert runner is not None  # users run only under a runner
        if self._arrived == runner.target_user_count:
            environment.stats.reset_all()
            # bench/load.py reads this line (locust_setup_s).
            logging.warning("all %d users set up after %.1f s", self._arrived, time.monotonic() - self._created)
            mix_seconds = environment.parsed_options.mix_seconds if environment.parsed_options else 0.0
            if mix_seconds:
                gevent.spawn_later(mix_seconds, runner.quit)
            self._everyone.set()
        self._everyone.wait()


_BARRIER = _SetupBarrier()


def _succeeded(response: httpx.Response) -> dict:
    if not response.is_success:
        request = response.request
        raise SetupFailed(f"{request.method} {request.url.path}: HTTP {response.status_code} {response.text[:200]}")
    return response.json()


class Musician(HttpUser):
    wait_time = between(0.05, 0.25)

    def on_start(self) -> None:
        """Signs up, creates a repository and uploads takes: outside the figures, which are the mix.
        A failed step raises SetupFailed (locust counts it among the users' exceptions)."""
        assert self.host is not None  # locust is run with --host
        name = f"load-{uuid.uuid4().hex[:12]}"
        with httpx.Client(base_url=self.host, timeout=60) as setup:
            account = {"username": name, "email": f"{name}@example.com", "password": "a load test password"}
            registered = _succeeded(setup.post("/api/auth/register", json=account))
            setup.headers["Authorization"] = f"Bearer {registered['tokens']['access_token']}"
            self.repo_id = _succeeded(setup.post("/api/repositories/create", json={"name": "Load"}))["id"]
            self.blob_ids = [
                _succeeded(setup.post("/api/audio/upload", files={"file": ("take.wav", take, "audio/wav")}))["blob_id"]
                for take in _TAKES
            ]
        self.client.headers["Authorization"] = setup.headers["Authorization"]
        self.head = ""
        self.jobs: list[str] = []
        _BARRIER.arrive_and_wait(self.environment)

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
