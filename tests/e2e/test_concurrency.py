"""Many clients at once through the gateway: every commit lands once or is told it lost the race."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.audio import tone
from tests.e2e.conftest import Api

pytestmark = pytest.mark.slow
CLIENTS = 50


async def setup_repo(api: Api):
    alice = await api.user("alice")
    http = api.client
    repo = (await http.post("/api/repositories/create", json={"name": "Race"}, headers=alice.headers)).json()
    blob = (
        await http.post("/api/audio/upload", files={"file": ("t.wav", tone(0.3), "audio/wav")}, headers=alice.headers)
    ).json()["blob_id"]
    root = (
        await http.post(
            f"/api/vcs/commit/{repo['id']}",
            json={"message": "root", "stems": [{"name": "loop", "blob_id": blob}]},
            headers=alice.headers,
        )
    ).json()
    return alice, repo["id"], blob, root["id"]


async def test_fifty_clients_on_one_parent_exactly_one_wins(api: Api):
    alice, repo_id, blob, root = await setup_repo(api)

    async def attempt(index: int):
        return await api.client.post(
            f"/api/vcs/commit/{repo_id}",
            headers=alice.headers,
            json={"message": f"take {index}", "parent_commit_id": root, "stems": [{"name": "loop", "blob_id": blob}]},
        )

    responses = await asyncio.gather(*(attempt(i) for i in range(CLIENTS)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CLIENTS - 1)
    winner = next(r.json() for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            info = next(d for d in response.json()["details"] if d["type"] == "ErrorInfo")
            assert info["reason"] == "BRANCH_MOVED" and info["metadata"]["current_head"] == winner["id"]
    history = (await api.client.get(f"/api/vcs/history/{repo_id}", headers=alice.headers)).json()
    assert [c["id"] for c in history["commits"]] == [winner["id"], root]


async def test_fifty_clients_that_retry_all_land_exactly_once(api: Api):
    alice, repo_id, blob, _ = await setup_repo(api)

    async def commit_with_retries(index: int) -> str:
        rng = random.Random(index)
        while True:
            branches = (await api.client.get(f"/api/vcs/repos/{repo_id}/branches", headers=alice.headers)).json()
            head = branches["branches"][0]["commit_id"]
            response = await api.client.post(
                f"/api/vcs/commit/{repo_id}",
                headers=alice.headers,
                json={
                    "message": f"take {index}",
                    "parent_commit_id": head,
                    "stems": [{"name": "loop", "blob_id": blob}],
                    "request_id": f"take-{index}",
                },
            )
            if response.status_code == 201:
                return response.json()["id"]
            assert response.status_code == 409, response.text
            await asyncio.sleep(rng.uniform(0, 0.05 * CLIENTS / 10))

    landed = await asyncio.gather(*(commit_with_retries(i) for i in range(CLIENTS)))
    assert len(set(landed)) == CLIENTS
    history = (
        await api.client.get(f"/api/vcs/history/{repo_id}", params={"page_size": 500}, headers=alice.headers)
    ).json()
    messages = [c["message"] for c in history["commits"]]
    assert sorted(messages) == sorted([f"take {i}" for i in range(CLIENTS)] + ["root"])
    # A straight line: each commit's parent is the one before it.
    ids = [c["id"] for c in history["commits"]]
    assert all(c["parent_id"] == ids[i + 1] for i, c in enumerate(history["commits"][:-1]))


async def test_concurrent_forks_and_merges(api: Api):
    alice, repo_id, blob, root = await setup_repo(api)
    bob = await api.user("bob")
    await api.client.put(
        f"/api/repositories/{repo_id}/collaborators/{bob.username}", json={"role": "read"}, headers=alice.headers
    )
    forks = await asyncio.gather(
        *(
            api.client.post(
                "/api/vcs/fork", headers=bob.headers, json={"original_repo_id": repo_id, "fork_name": f"fork {i}"}
            )
            for i in range(10)
        )
    )
    assert all(f.status_code == 201 for f in forks)
    # Two merges of the same branch into main at once: one merges, the other finds it up to date or loses the race.
    await api.client.post(f"/api/vcs/repos/{repo_id}/branches", json={"name": "side"}, headers=alice.headers)
    other = (
        await api.client.post(
            "/api/audio/upload", files={"file": ("o.wav", tone(0.3, 600.0), "audio/wav")}, headers=alice.headers
        )
    ).json()["blob_id"]
    await api.client.post(
        f"/api/vcs/commit/{repo_id}",
        headers=alice.headers,
        json={
            "message": "side",
            "branch": "side",
            "parent_commit_id": root,
            "stems": [{"name": "loop", "blob_id": blob}, {"name": "extra", "blob_id": other}],
        },
    )
    merges = await asyncio.gather(
        *(
            api.client.post(f"/api/vcs/repos/{repo_id}/merge", json={"source": "side"}, headers=alice.headers)
            for _ in range(2)
        )
    )
    outcomes = sorted((m.status_code, m.json().get("outcome", m.json().get("code"))) for m in merges)
    assert outcomes[0] == (200, "MERGE_OUTCOME_FAST_FORWARD")
    assert outcomes[1] in ((200, "MERGE_OUTCOME_UP_TO_DATE"), (409, "ABORTED"))
