"""A musician's day over HTTP against the whole stack running as real processes."""

from __future__ import annotations

import json

import pytest
import websockets

from beatflow_audio import codec
from beatflow_audio.theory import Key
from beatflow_generator.engines.procedural.engine import ProceduralEngine
from beatflow_generator.spec import GenerationSpec
from tests.e2e.conftest import Api, User

pytestmark = pytest.mark.slow


async def watch(api: Api, user: User, job_id: str) -> list[dict]:
    """Every WatchJob event the WebSocket relays, until it closes."""
    url = api.base_url.replace("http://", "ws://") + f"/ws/jobs/{job_id}?token={user.token}"
    events = []
    async with websockets.connect(url) as socket:
        async for message in socket:
            events.append(json.loads(message))
    return events


def track(bpm: int = 100, key: str = "E minor", seconds: float = 8.0) -> bytes:
    spec = GenerationSpec(
        prompt="lofi hip-hop",
        bpm=bpm,
        mood="",
        duration_seconds=seconds,
        key=Key.parse(key),
        engine="procedural",
        seed=4,
    )
    rendering = ProceduralEngine().render(spec, lambda *_: None)
    return codec.encode(rendering.stems["mix"], rendering.sample_rate, "WAV")


async def test_a_musicians_day(api: Api):
    alice, bob, carol = await api.user("alice"), await api.user("bob"), await api.user("carol")
    http = api.client

    login = await http.post("/api/auth/login", json={"login": alice.username, "password": "alice has a long password"})
    assert login.status_code == 200 and login.json()["user"]["user_id"] == alice.user_id

    repo = (
        await http.post(
            "/api/repositories/create", json={"name": "Night Drive", "genre": "lofi"}, headers=alice.headers
        )
    ).json()
    repo_id = repo["id"]

    # Generate a beat and follow it over the WebSocket.
    job = (
        await http.post(
            "/api/ai/generate",
            json={"prompt": "lofi hip-hop with piano", "bpm": 90, "mood": "dark", "duration": 8, "seed": 3},
            headers=alice.headers,
        )
    ).json()
    events = await watch(api, alice, job["task_id"])
    assert events[-1]["status"] == "success", events[-1]
    assert [e["progress"]["fraction"] for e in events] == sorted(e["progress"]["fraction"] for e in events)
    stems = {a["name"]: a["blob"]["blob_id"] for a in events[-1]["result"]["artifacts"]}
    assert set(stems) == {"drums", "bass", "chords", "melody", "mix"}
    status = (await http.get(f"/api/ai/status/{job['task_id']}", headers=alice.headers)).json()
    assert status["status"] == "success"

    # Commit the stems, branch, and commit an idea on the branch.
    first = await http.post(
        f"/api/vcs/commit/{repo_id}",
        json={
            "message": "first beat",
            "bpm": 90,
            "key_signature": "A minor",
            "generation_params": {"prompt": "lofi hip-hop with piano", "seed": 3},
            "stems": [{"name": n, "blob_id": b} for n, b in stems.items() if n != "mix"],
        },
        headers=alice.headers,
    )
    assert first.status_code == 201, first.text
    first = first.json()
    branch = await http.post(
        f"/api/vcs/repos/{repo_id}/branches", json={"name": "idea/no-drums"}, headers=alice.headers
    )
    assert branch.status_code == 201
    idea = (
        await http.post(
            f"/api/vcs/commit/{repo_id}",
            json={"message": "no drums", "branch": "idea/no-drums", "remove_stems": ["drums"]},
            headers=alice.headers,
        )
    ).json()

    assert idea["parent_ids"] == [first["id"]] and idea["bpm"] == 90, "an edit of the branch head"

    # Upload a track, analyse it, separate it, and commit its stems on main.
    upload = await http.post(
        "/api/audio/upload", files={"file": ("take.wav", track(), "audio/wav")}, headers=alice.headers
    )
    assert upload.status_code == 201, upload.text
    take = upload.json()["blob_id"]
    analysis = (await http.post("/api/ai/analyze-audio", params={"blob_id": take}, headers=alice.headers)).json()
    assert abs(analysis["bpm"] - 100) <= 2 and analysis["key_signature"] == "E minor"
    separation = (await http.post("/api/ai/separate-stems", json={"blob_id": take}, headers=alice.headers)).json()
    separated = await watch(api, alice, separation["task_id"])
    assert separated[-1]["status"] == "success"
    parts = {a["name"]: a["blob"]["blob_id"] for a in separated[-1]["result"]["artifacts"]}
    main = (
        await http.post(
            f"/api/vcs/commit/{repo_id}",
            json={
                "message": "add the take's bass",
                "parent_commit_id": first["id"],  # compare-and-swap: 409 if main moved meanwhile
                "stems": [{"name": "take-bass", "blob_id": parts["bass"]}],
            },
            headers=alice.headers,
        )
    ).json()

    # Diff and merge the idea into main.
    diff = (
        await http.get(
            f"/api/vcs/repos/{repo_id}/diff", params={"base": "main", "head": "idea/no-drums"}, headers=alice.headers
        )
    ).json()
    assert {(c["name"], c["change"]) for c in diff["stem_changes"]} == {
        ("drums", "CHANGE_TYPE_REMOVED"),
        ("take-bass", "CHANGE_TYPE_REMOVED"),
    }
    merged = (
        await http.post(f"/api/vcs/repos/{repo_id}/merge", json={"source": "idea/no-drums"}, headers=alice.headers)
    ).json()
    assert merged["outcome"] == "MERGE_OUTCOME_MERGE_COMMIT"
    assert merged["commit"]["parent_ids"] == [main["id"], idea["id"]]
    assert {s["name"] for s in merged["commit"]["stems"]} == {"bass", "chords", "melody", "take-bass"}
    history = (await http.get(f"/api/vcs/history/{repo_id}", headers=alice.headers)).json()
    assert history["commits"][0]["id"] == merged["commit"]["id"]
    assert len(history["commits"]) == 4 and history["root"] == first["id"]

    # Bob, a collaborator, forks the private repository.
    await http.put(
        f"/api/repositories/{repo_id}/collaborators/{bob.username}", json={"role": "read"}, headers=alice.headers
    )
    fork = await http.post(
        "/api/vcs/fork", json={"original_repo_id": repo_id, "fork_name": "Night Drive - bob"}, headers=bob.headers
    )
    assert fork.status_code == 201, fork.text
    assert fork.json()["forked_from"]["repo_id"] == repo_id and not fork.json()["is_public"]

    # Download a stem with a Range request, as a browser player seeks.
    url = f"/api/audio/download/{stems['bass']}"
    whole = await http.get(url, headers=alice.headers)
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/flac"
    ranged = await http.get(url, headers={**alice.headers, "Range": "bytes=100-1099"})
    assert ranged.status_code == 206 and ranged.content == whole.content[100:1100]
    assert ranged.headers["content-range"] == f"bytes 100-1099/{len(whole.content)}"
    cached = await http.get(url, headers={**alice.headers, "If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304
    mp3 = await http.get(url, params={"format": "mp3"}, headers=alice.headers)
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"

    # Carol sees none of it.
    for path in (
        f"/api/repositories/{repo_id}",
        f"/api/vcs/history/{repo_id}",
        f"/api/vcs/commit/{first['id']}",
        f"/api/ai/status/{job['task_id']}",
        f"/api/audio/download/{stems['bass']}",
        f"/api/repositories/{fork.json()['id']}",
    ):
        response = await http.get(path, headers=carol.headers)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    # Her list holds public repositories of other tests in this stack, but none of these private ones.
    listed = {r["id"] for r in (await http.get("/api/repositories", headers=carol.headers)).json()["repositories"]}
    assert listed.isdisjoint({repo_id, fork.json()["id"]})
    url = api.base_url.replace("http://", "ws://") + f"/ws/jobs/{job['task_id']}?token={carol.token}"
    async with websockets.connect(url) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd.code == 4404


async def test_health_docs_and_error_format(api: Api):
    http = api.client
    assert (await http.get("/health")).json()["status"] == "healthy"
    assert (await http.get("/")).json()["status"] == "operational"
    assert (await http.get("/docs")).status_code == 200
    assert (await http.get("/redoc")).status_code == 200
    assert "/api/ai/generate" in (await http.get("/openapi.json")).json()["paths"]
    anonymous = await http.get("/api/repositories")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHENTICATED"
    assert anonymous.headers["x-request-id"]
    alice = await api.user("alice")
    bad = await http.post("/api/ai/generate", json={"prompt": "x", "bpm": 999}, headers=alice.headers)
    assert bad.status_code == 400
    violation = bad.json()["details"][-1]["field_violations"][0]
    assert violation["field"] == "bpm" and "60 to 300" in violation["description"]
    forged = await http.get("/api/auth/me", headers={"Authorization": "Bearer forged.token.value"})
    assert forged.status_code == 401 and forged.json()["details"][0]["reason"] == "TOKEN_INVALID"
    not_audio = await http.post(
        "/api/audio/upload", files={"file": ("notes.txt", b"not audio", "text/plain")}, headers=alice.headers
    )
    assert not_audio.status_code == 415


async def test_sse_relays_job_events(api: Api):
    alice = await api.user("alice")
    job = (
        await api.client.post("/api/ai/generate", json={"prompt": "house", "duration": 5}, headers=alice.headers)
    ).json()
    events = []
    async with api.client.stream("GET", f"/api/jobs/{job['task_id']}/events", headers=alice.headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["status"] == "success"
