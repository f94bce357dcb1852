"""Hostile input over HTTP: traversal and odd names in paths and upload filenames, and SQL
injection strings in every free-text field. Nothing may fail with a server error, leak a
file, or be stored other than exactly as sent."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpcore
import httpx
import psycopg
import pytest

from beatflow_devtools.stack import DATABASE
from tests.audio import tone
from tests.e2e.conftest import Api

pytestmark = pytest.mark.slow

# Raw path segments (already percent-encoded where a client would have to).
HOSTILE_SEGMENTS = [
    "..",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "....//....//etc/passwd",
    "%00",
    "x%00.wav",
    "%0d%0aSet-Cookie:%20x=1",
    "%E5%90%8D%E5%89%8D",
    "'%3B%20DROP%20TABLE%20vcs.repositories%3B--",
    "a" * 3000,
    "%25",
    "CON",
]
INJECTIONS = [
    "'; DROP TABLE vcs.repositories; --",
    "' OR '1'='1",
    '"; SELECT pg_sleep(30); --',
    "$$; DELETE FROM vcs.users; $$",
    "Robert'); DROP TABLE students;--",
    "\\'; TRUNCATE jobs.jobs; --",
]


@dataclass
class RawResponse:
    status_code: int
    headers: dict[str, str]
    text: str

    def json(self) -> dict:
        return json.loads(self.text)


async def _raw_get(base_url: str, path: str, headers: dict) -> RawResponse:
    """GET exactly this target: httpx would remove '..' segments before sending, as browsers do."""
    url = httpx.URL(base_url)
    target = httpcore.URL(scheme=b"http", host=url.host.encode(), port=url.port, target=path.encode("ascii"))
    async with httpcore.AsyncConnectionPool() as pool:
        response = await pool.request("GET", target, headers=list(headers.items()))
    return RawResponse(
        response.status,
        {key.decode().lower(): value.decode() for key, value in response.headers},
        response.content.decode(errors="replace"),
    )


async def test_traversal_and_odd_names_in_paths_find_nothing(api: Api):
    http = api.client
    alice = await api.user("alice")
    repo = (await http.post("/api/repositories/create", json={"name": "Paths"}, headers=alice.headers)).json()["id"]
    templates = [
        "/api/repositories/{}",
        "/api/repositories/{}/collaborators",
        f"/api/repositories/{repo}/collaborators/{{}}",
        "/api/vcs/history/{}",
        "/api/vcs/commit/{}",
        "/api/vcs/repos/{}/branches",
        f"/api/vcs/repos/{repo}/log?ref={{}}",
        f"/api/vcs/repos/{repo}/diff?base={{}}",
        "/api/ai/status/{}",
        "/api/jobs/{}",
        "/api/audio/download/{}",
        "/api/audio/download/{}/../../../../etc/passwd",
    ]
    for template in templates:
        for segment in HOSTILE_SEGMENTS:
            path = template.format(segment)
            response = await _raw_get(api.base_url, path, alice.headers)
            assert response.status_code in (400, 404, 405), (path, response.status_code, response.text[:200])
            assert response.json()["code"] in ("INVALID_ARGUMENT", "NOT_FOUND", "METHOD_NOT_ALLOWED"), path
            assert "root:" not in response.text, f"{path} leaked a file"
            assert "set-cookie" not in response.headers, f"{path} split the response"


@pytest.mark.parametrize(
    "filename",
    [
        "../../../../../tmp/beatflow-evil.wav",
        "..\\..\\..\\Windows\\beatflow-evil.wav",
        "/etc/passwd",
        "名前 🎵.wav",
        "x" * 300 + ".wav",
        "take'; DROP TABLE vcs.blobs; --.wav",
        "",
    ],
)
async def test_upload_filenames_never_name_a_server_path(api: Api, filename: str):
    http = api.client
    alice = await api.user("alice")
    audio = tone(0.2, 330 + len(filename))
    response = await http.post(
        "/api/audio/upload", files={"file": (filename, audio, "audio/wav")}, headers=alice.headers
    )
    assert response.status_code in (201, 400), response.text
    assert not Path("/tmp/beatflow-evil.wav").exists()
    if response.status_code == 400:
        assert response.json()["code"] == "INVALID_ARGUMENT"
        return
    blob_id = response.json()["blob_id"]
    download = await http.get(f"/api/audio/download/{blob_id}", headers=alice.headers)
    assert download.content == audio, "stored by content, whatever it was called"
    disposition = download.headers["content-disposition"]
    assert blob_id[:16] in disposition and "/" not in disposition and ".." not in disposition


async def test_injection_strings_are_stored_as_text(api: Api, stack):
    http = api.client
    alice = await api.user("alice")
    blob = (
        await http.post("/api/audio/upload", files={"file": ("t.wav", tone(0.3), "audio/wav")}, headers=alice.headers)
    ).json()["blob_id"]
    for attack in INJECTIONS:
        name = f"Injection {uuid.uuid4().hex[:6]}"
        created = await http.post(
            "/api/repositories/create",
            json={"name": name, "description": attack, "genre": attack[:64]},
            headers=alice.headers,
        )
        assert created.status_code == 201, created.text
        repo = created.json()
        assert (repo["description"], repo["genre"]) == (attack, attack[:64])
        commit = await http.post(
            f"/api/vcs/commit/{repo['id']}",
            json={
                "message": attack,
                "stems": [{"name": "loop", "blob_id": blob}],
                "generation_params": {attack: attack},
            },
            headers=alice.headers,
        )
        assert commit.status_code == 201, commit.text
        stored = (await http.get(f"/api/vcs/commit/{commit.json()['id']}", headers=alice.headers)).json()
        assert stored["message"] == attack and stored["generation_params"] == {attack: attack}
        tag = await http.post(
            f"/api/vcs/repos/{repo['id']}/tags",
            json={"name": "v1", "target": "main", "message": attack},
            headers=alice.headers,
        )
        assert tag.status_code == 201 and tag.json()["message"] == attack
        # Where names have a shape, an attack is refused as a bad name, not run.
        for path, body in (
            ("/api/repositories/create", {"name": attack}),
            (f"/api/vcs/repos/{repo['id']}/branches", {"name": attack}),
        ):
            refused = await http.post(path, json=body, headers=alice.headers)
            assert refused.status_code == 400 and refused.json()["code"] == "INVALID_ARGUMENT", refused.text
        login = await http.post("/api/auth/login", json={"login": attack, "password": attack + "!" * 10})
        assert login.status_code == 401
        job = await http.post(
            "/api/ai/generate", json={"prompt": attack, "mood": attack[:64], "duration": 5}, headers=alice.headers
        )
        assert job.status_code == 202, job.text
        with psycopg.connect(stack.postgres.dsn(DATABASE)) as db:
            payload = db.execute("SELECT payload FROM jobs.jobs WHERE id = %s", (job.json()["task_id"],)).fetchone()[0]
        assert payload["spec"]["prompt"] == attack.strip(), payload
        await http.post(f"/api/jobs/{job.json()['task_id']}/cancel", headers=alice.headers)
    # Everything is still there and still works.
    mine = (await http.get("/api/repositories", params={"owner": alice.username}, headers=alice.headers)).json()
    assert len([r for r in mine["repositories"] if r["name"].startswith("Injection")]) == len(INJECTIONS)
    assert (await http.get("/api/auth/me", headers=alice.headers)).json()["username"] == alice.username
