"""Over REST: comments on moments (public reads without a token, author-only edits, private repositories 404 to
strangers) and time-range merges whose conflicts come with URLs that play each side's version of the range."""

from __future__ import annotations

from tests.gateway.conftest import signed_in
from tests.gateway.test_commits_and_public_reads import upload
from tests.vcs.synthetic_notes import BAR, BPM, edited, flac, melody, pitches


async def commit(client, headers, repo_id: str, keys: str, **fields) -> dict:
    response = await client.post(
        f"/api/vcs/commit/{repo_id}",
        json={"message": "take", "stems": [{"name": "keys", "blob_id": keys}], **fields},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_comments_over_rest(gateway_factory):
    client = await gateway_factory(slow_call_timeout_seconds=30)
    owner, listener = await signed_in(client, "composer"), await signed_in(client, "listener")
    notes = pitches(5)
    repos = {}
    for name, public in (("Open", True), ("Closed", False)):
        created = await client.post("/api/repositories/create", json={"name": name, "is_public": public}, headers=owner)
        repo_id = created.json()["id"]
        first = await commit(client, owner, repo_id, await upload(client, owner, flac(melody(notes))), bpm=BPM)
        repos[name] = (repo_id, first["id"])
    repo_id, v1 = repos["Open"]
    comments = f"/api/vcs/repos/{repo_id}/commits/{v1}/comments"

    made = await client.post(
        comments,
        json={"body": "bar 2 is gorgeous", "stem": "keys", "start_seconds": BAR, "end_seconds": 2 * BAR},
        headers=listener,
    )
    assert made.status_code == 201, made.text
    comment = made.json()
    assert (comment["stem"], comment["start_seconds"], comment["author_username"]) == ("keys", BAR, "listener")
    reply = await client.post(comments, json={"body": "thanks!", "parent_id": comment["comment_id"]}, headers=owner)
    assert reply.status_code == 201 and reply.json()["start_seconds"] == BAR

    # A later commit that changes bar 4 only: the comment on bar 2 is carried forward, not outdated.
    v2 = await commit(client, owner, repo_id, await upload(client, owner, flac(melody(edited(notes, 4)))))
    anonymous = await client.get(f"/api/vcs/repos/{repo_id}/commits/{v2['id']}/comments")
    assert anonymous.status_code == 200, anonymous.text
    listed = anonymous.json()["comments"]
    assert [(c["body"], c["outdated"], c["commit_id"]) for c in listed] == [
        ("bar 2 is gorgeous", False, v1),
        ("thanks!", False, v1),
    ]

    path = f"/api/vcs/repos/{repo_id}/comments/{comment['comment_id']}"
    assert (await client.patch(path, json={"body": "hijacked"}, headers=owner)).status_code == 403
    assert (await client.patch(path, json={"body": "   "}, headers=listener)).status_code in (400, 422)
    fixed = await client.patch(path, json={"body": "bar 2 is gorgeous!"}, headers=listener)
    assert fixed.status_code == 200 and fixed.json()["edited"] is True
    assert (await client.post(comments, json={"body": "anonymous"})).status_code == 401
    assert (await client.delete(path, headers=owner)).status_code == 204  # the owner moderates
    kept = (await client.get(comments)).json()["comments"]
    assert [(c["deleted"], c["body"]) for c in kept] == [(True, ""), (False, "thanks!")]

    private_id, private_commit = repos["Closed"]
    hidden = f"/api/vcs/repos/{private_id}/commits/{private_commit}/comments"
    assert (await client.get(hidden)).status_code == 404
    assert (await client.get(hidden, headers=listener)).status_code == 404
    assert (await client.post(hidden, json={"body": "let me in"}, headers=listener)).status_code == 404


async def test_a_range_merge_over_rest_plays_both_sides_of_a_conflict(gateway_factory):
    client = await gateway_factory(slow_call_timeout_seconds=30)
    headers = await signed_in(client, "arranger")
    repo_id = (await client.post("/api/repositories/create", json={"name": "Duet"}, headers=headers)).json()["id"]
    notes = pitches(6)
    first = await commit(client, headers, repo_id, await upload(client, headers, flac(melody(notes))), bpm=BPM)
    branch = await client.post(
        f"/api/vcs/repos/{repo_id}/branches", json={"name": "feature", "start_point": first["id"]}, headers=headers
    )
    assert branch.status_code == 201, branch.text
    ours = await upload(client, headers, flac(melody(edited(edited(notes, 1), 3))))
    theirs = await upload(client, headers, flac(melody(edited(notes, 1, shift=3))))
    await commit(client, headers, repo_id, ours)
    await commit(client, headers, repo_id, theirs, branch="feature")

    merge = f"/api/vcs/repos/{repo_id}/merge"
    clash = await client.post(merge, json={"source": "feature"}, headers=headers)
    assert clash.status_code == 200, clash.text
    assert clash.json()["outcome"] == "MERGE_OUTCOME_CONFLICT"
    (conflict,) = clash.json()["range_conflicts"]
    assert (conflict["stem"], conflict["start_seconds"], conflict["end_seconds"]) == ("keys", BAR, 2 * BAR)
    assert conflict["theirs_url"] == f"/api/audio/download/{theirs}#t={BAR},{2 * BAR}"
    heard = await client.get(conflict["ours_url"].split("#")[0], headers=headers)
    assert heard.status_code == 200 and heard.content.startswith(b"fLaC")

    choice = {"stem": "keys", "start_seconds": BAR, "end_seconds": 2 * BAR, "resolution": "theirs"}
    missing_take = await client.post(
        merge, json={"source": "feature", "range_resolutions": [{**choice, "resolution": "take"}]}, headers=headers
    )
    assert missing_take.status_code in (400, 422)
    merged = await client.post(merge, json={"source": "feature", "range_resolutions": [choice]}, headers=headers)
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["outcome"] == "MERGE_OUTCOME_MERGE_COMMIT"
    (splice,) = body["splices"]
    assert [(r["source"], r["start_seconds"]) for r in splice["ranges"]] == [("theirs", BAR), ("ours", 3 * BAR)]
    assert {s["name"]: s["blob_id"] for s in body["commit"]["stems"]}["keys"] == splice["blob_id"]
