"""Over REST: commits as edits (the seed's payload included), the 409 of a stale parent, and reads without a token."""

from __future__ import annotations

import httpx
import pytest

from tests.audio import tone
from tests.gateway.conftest import signed_in


async def upload(client: httpx.AsyncClient, headers: dict, data: bytes) -> str:
    response = await client.post("/api/audio/upload", files={"file": ("t.wav", data, "audio/wav")}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["blob_id"]


def stems_of(commit: dict) -> dict[str, str]:
    return {s["name"]: s["blob_id"] for s in commit["stems"]}


@pytest.fixture
async def song(gateway_factory):
    """A public and a private repository, each with a first commit of four stems at 92 bpm in A minor."""
    client = await gateway_factory()
    headers = await signed_in(client, "songwriter")
    blobs = {name: await upload(client, headers, tone(0.2, 100.0 * (i + 1))) for i, name in enumerate("abcdef")}
    repos = {}
    for visibility in ("public", "private"):
        repo = await client.post(
            "/api/repositories/create",
            json={"name": f"Song {visibility}", "is_public": visibility == "public"},
            headers=headers,
        )
        repo_id = repo.json()["id"]
        first = await client.post(
            f"/api/vcs/commit/{repo_id}",
            json={
                "message": "four stems",
                "bpm": 92,
                "key_signature": "A minor",
                "stems": [
                    {"name": n, "blob_id": blobs[b]}
                    for n, b in zip(("drums", "bass", "keys", "vox"), "abcd", strict=True)
                ],
            },
            headers=headers,
        )
        assert first.status_code == 201, first.text
        repos[visibility] = (repo_id, first.json())
    return client, headers, blobs, repos


async def test_rest_commits_are_edits_of_the_branch_head(song):
    client, headers, blobs, repos = song
    repo_id, first = repos["private"]
    url = f"/api/vcs/commit/{repo_id}"
    # "Add guitar", as a REST caller writes it: no parent, no bpm or key.
    guitar = await client.post(
        url, json={"message": "add guitar", "stems": [{"name": "guitar", "blob_id": blobs["e"]}]}, headers=headers
    )
    assert guitar.status_code == 201, guitar.text
    added = guitar.json()
    assert added["parent_ids"] == [first["id"]] and added["branch"] == "main"
    assert stems_of(added) == {**stems_of(first), "guitar": blobs["e"]}
    assert (added["bpm"], added["key_signature"]) == (92, "A minor")
    # The seed contract's payload (no stems at all) changes the metadata and keeps every stem.
    seed = await client.post(
        url, json={"message": "Added 808 bass", "bpm": 120, "generation_params": {"prompt": "808"}}, headers=headers
    )
    assert stems_of(seed.json()) == stems_of(added) and (seed.json()["bpm"], seed.json()["key_signature"]) == (
        120,
        "A minor",
    )
    removed = await client.post(url, json={"message": "no vox", "remove_stems": ["vox"]}, headers=headers)
    assert set(stems_of(removed.json())) == {"drums", "bass", "keys", "guitar"}
    whole = await client.post(
        url,
        json={"message": "only f", "replace_tree": True, "stems": [{"name": "f", "blob_id": blobs["f"]}]},
        headers=headers,
    )
    assert stems_of(whole.json()) == {"f": blobs["f"]} and whole.json()["bpm"] == 0

    stale = await client.post(url, json={"message": "late", "parent_commit_id": first["id"]}, headers=headers)
    assert stale.status_code == 409
    body = stale.json()
    assert body["code"] == "ABORTED" and whole.json()["id"] in body["message"]
    info = next(d for d in body["details"] if d["type"] == "ErrorInfo")
    assert info["reason"] == "BRANCH_MOVED" and info["metadata"]["current_head"] == whole.json()["id"]

    typo = await client.post(url, json={"message": "x", "remove_stems": ["voxx"]}, headers=headers)
    assert typo.status_code == 400 and "'voxx'" in typo.json()["message"]
    both = await client.post(
        url,
        json={"message": "x", "remove_stems": ["f"], "stems": [{"name": "f", "blob_id": blobs["a"]}]},
        headers=headers,
    )
    assert both.status_code == 400
    head = (await client.get(f"/api/vcs/repos/{repo_id}/branches", headers=headers)).json()["branches"][0]
    assert head["commit_id"] == whole.json()["id"], "refused edits wrote nothing"


async def test_public_repositories_are_read_without_a_token(song):
    client, headers, blobs, repos = song
    for visibility, ok in (("public", 200), ("private", 404)):
        repo_id, first = repos[visibility]
        reads = [
            f"/api/repositories/{repo_id}",
            f"/api/repositories/{repo_id}/collaborators",
            f"/api/vcs/history/{repo_id}",
            f"/api/vcs/repos/{repo_id}/log",
            f"/api/vcs/repos/{repo_id}/branches",
            f"/api/vcs/repos/{repo_id}/tags",
            f"/api/vcs/commit/{first['id']}",
            f"/api/vcs/commit/{first['id']}?repo_id={repo_id}",
            f"/api/vcs/repos/{repo_id}/diff?base=main&head=main",
        ]
        for path in reads:
            response = await client.get(path)
            assert response.status_code == ok, (visibility, path, response.text)
    public_blob = blobs["a"]  # in both repositories: the public one makes it readable
    part = await client.get(f"/api/audio/download/{public_blob}", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == tone(0.2, 100.0)[:100]
    only_private = await upload(client, headers, tone(0.2, 777.0))
    private_id, _ = repos["private"]
    await client.post(
        f"/api/vcs/commit/{private_id}",
        json={"message": "secret", "stems": [{"name": "s", "blob_id": only_private}]},
        headers=headers,
    )
    assert (await client.get(f"/api/audio/download/{only_private}")).status_code == 404
    assert (await client.get(f"/api/audio/download/{only_private}?format=mp3")).status_code == 404
    assert (await client.get(f"/api/audio/download/{public_blob}?format=mp3")).status_code == 401


async def test_writes_and_bad_tokens_are_401(song):
    client, _, _, repos = song
    repo_id, _ = repos["public"]
    write = await client.post(f"/api/vcs/commit/{repo_id}", json={"message": "x"})
    assert write.status_code == 401 and write.json()["code"] == "UNAUTHENTICATED"
    assert (await client.get("/api/repositories")).status_code == 401
    for header in ("Bearer not-a-token", "Basic dXNlcjpwYXNz"):
        response = await client.get(f"/api/repositories/{repo_id}", headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_openapi_says_which_reads_need_no_token(gateway_factory):
    client = await gateway_factory()
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    assert paths["/api/vcs/history/{repo_id}"]["get"]["security"] == [{"HTTPBearer": []}, {}]
    assert paths["/api/audio/download/{blob_id}"]["get"]["security"] == [{"HTTPBearer": []}, {}]
    commit = paths["/api/vcs/commit/{repo_id}"]["post"]
    assert commit["security"] == [{"HTTPBearer": []}]
    body = commit["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"stems", "remove_stems", "replace_tree"} <= set(document["components"]["schemas"][body]["properties"])
