"""Over REST: the diff's changed ranges and the diff picture, readable without a token on public repositories."""

from __future__ import annotations

import numpy as np

from beatflow_audio import codec
from tests.gateway.conftest import signed_in
from tests.gateway.test_commits_and_public_reads import upload

RATE = 22050


def chord(seconds: float, quiet: tuple[float, float] | None = None) -> bytes:
    """A three-note chord with slow tremolo; `quiet` is a span played 12 dB softer."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * (0.2 + 0.05 * np.sin(2 * np.pi * 2 * t))
    if quiet:
        wave[int(quiet[0] * RATE) : int(quiet[1] * RATE)] *= 10 ** (-12 / 20)
    return codec.encode(wave.astype(np.float32), RATE, "WAV")


async def test_diff_ranges_and_picture_over_rest(gateway_factory):
    client = await gateway_factory(slow_call_timeout_seconds=30)
    headers = await signed_in(client, "mixer")
    repo_ids, first_commits = {}, {}
    for visibility in ("public", "private"):
        created = await client.post(
            "/api/repositories/create",
            json={"name": f"Mix {visibility}", "is_public": visibility == "public"},
            headers=headers,
        )
        repo_ids[visibility] = repo_id = created.json()["id"]
        for message, data in (("take", chord(4.0)), ("softer", chord(4.0, quiet=(1.0, 2.5)))):
            blob_id = await upload(client, headers, data)
            response = await client.post(
                f"/api/vcs/commit/{repo_id}",
                json={"message": message, "bpm": 120, "stems": [{"name": "pad", "blob_id": blob_id}]},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            first_commits.setdefault(visibility, response.json()["id"])

    public = repo_ids["public"]
    base = first_commits["public"]
    diff = await client.get(f"/api/vcs/repos/{public}/diff", params={"base": base, "head": "main"})
    assert diff.status_code == 200, diff.text
    (pad,) = diff.json()["stem_changes"]
    assert pad["audio_compared"] is True
    (changed,) = pad["ranges"]
    assert changed["kind"] == "RANGE_KIND_MODIFIED"
    assert (changed["head_start_seconds"], changed["head_end_seconds"]) == (1.0, 2.5)  # on the 120 bpm beat grid
    assert abs(changed["loudness_change_db"] + 12) < 0.5

    picture = await client.get(f"/api/vcs/repos/{public}/diff/picture", params={"base": base, "stem": "pad"})
    assert picture.status_code == 200, picture.text
    assert picture.headers["content-type"] == "image/png" and picture.content.startswith(b"\x89PNG")
    assert picture.headers["x-base-commit"] == base

    private = repo_ids["private"]
    hidden = await client.get(f"/api/vcs/repos/{private}/diff/picture", params={"base": "main", "stem": "pad"})
    assert hidden.status_code == 404
    bad_size = await client.get(
        f"/api/vcs/repos/{public}/diff/picture", params={"base": base, "stem": "pad", "width": 100}
    )
    assert bad_size.status_code == 400
