"""Over REST: repositories and stems named in any script, mixed through the render route with percent-encoded
stem names, and downloaded under their names (RFC 6266 `filename*` with an ASCII fallback)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote

import numpy as np

from beatflow_audio import codec
from beatflow_platform import naming
from tests.gateway.conftest import signed_in
from tests.gateway.test_commit_render import PCM_TOLERANCE, RATE, commit_stems, expected_mix, sine
from tests.gateway.test_commits_and_public_reads import upload

# RFC 6266: a quoted ASCII `filename` (no '"' or '\\' inside), then RFC 5987 `filename*`
# (UTF-8, percent-encoded attr-chars only).
_DISPOSITION = re.compile(r"""inline; filename="([ !#-\[\]-~]*)"(?:; filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]+))?""")


def saved_as(content_disposition: str) -> tuple[str, str]:
    """(the name a browser saves the file as: `filename*` where given, the plain ASCII `filename`)."""
    match = _DISPOSITION.fullmatch(content_disposition)
    assert match, content_disposition
    fallback, encoded = match.groups()
    return (unquote(encoded, errors="strict") if encoded else fallback), fallback


async def test_unicode_stems_are_muted_gained_and_named_in_downloads(gateway_factory):
    client = await gateway_factory(slow_call_timeout_seconds=30)
    headers = await signed_in(client, "lieder")
    takes = {
        "gesang": sine(1.0, 220.0, 0.2),
        "ボーカル": sine(1.0, 330.0, 0.2),
        "bajo eléctrico": sine(1.0, 55.0, 0.25),
    }
    encoded = {name: codec.encode(samples, RATE, "WAV") for name, samples in takes.items()}
    stems = {name: codec.decode(data)[0][:, 0] for name, data in encoded.items()}
    _, commit = await commit_stems(client, headers, encoded)
    assert sorted(stem["name"] for stem in commit["stems"]) == sorted(takes)

    # Stem names percent-encoded in UTF-8, as a browser sends them; the gain's name spelled decomposed (NFD).
    url = commit["render_url"]
    query = f"mute={quote('ボーカル')}&gain.{quote(unicodedata.normalize('NFD', 'bajo eléctrico'))}=-6"
    response = await client.get(f"{url}?{query}&filename={quote('Café del Mar')}")
    assert response.status_code == 200, response.text
    mix, rate = codec.decode(response.content)
    # Mono stems mix to mono: compare with the left channel of the expected mix.
    expected = expected_mix(stems, {"gesang": 0, "bajo eléctrico": -6})[:, 0]
    assert rate == RATE and mix.shape == (len(expected), 1)
    assert np.abs(mix[:, 0] - expected).max() < PCM_TOLERANCE
    assert saved_as(response.headers["content-disposition"]) == ("Café del Mar.wav", "Cafe del Mar.wav")

    soloed = await client.get(url, params={"solo": "ボーカル,gesang", "format": "flac"})
    assert soloed.status_code == 200, soloed.text
    solo_mix, _ = codec.decode(soloed.content)
    assert np.abs(solo_mix[:, 0] - expected_mix(stems, {"gesang": 0, "ボーカル": 0})[:, 0]).max() < PCM_TOLERANCE
    assert saved_as(soloed.headers["content-disposition"]) == (f"{commit['id'][:12]}.flac",) * 2

    unknown = await client.get(url, params={"mute": "gesäng"})
    assert unknown.status_code == 400 and "gesäng" in unknown.text


async def test_downloads_carry_the_name_in_any_script(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client, "saver")
    blob_id = await upload(client, headers, codec.encode(sine(0.5, 440.0, 0.2), RATE, "WAV"))
    path = f"/api/audio/download/{blob_id}"

    named = await client.get(path, params={"filename": "ボーカル (take 2)"}, headers=headers)
    assert named.status_code == 200, named.text
    # In ASCII only the take number is left: the fallback keeps it.
    assert saved_as(named.headers["content-disposition"]) == ("ボーカル (take 2).wav", "(take 2).wav")
    only_kana = await client.get(path, params={"filename": "ボーカル"}, headers=headers)
    assert saved_as(only_kana.headers["content-disposition"]) == ("ボーカル.wav", f"{blob_id[:16]}.wav")
    punctuated = await client.get(path, params={"filename": "Live @ Fabric #2: 100% Pure?"}, headers=headers)
    assert saved_as(punctuated.headers["content-disposition"]) == (
        "Live @ Fabric #2: 100% Pure?.wav",
        "Live @ Fabric #2_ 100_ Pure.wav",
    )
    plain = await client.get(path, headers=headers)
    assert plain.headers["content-disposition"] == f'inline; filename="{blob_id[:16]}.wav"'

    refused = await client.get(path, params={"filename": "../etc/passwd"}, headers=headers)
    assert refused.status_code == 400
    assert naming.REPOSITORY_NAME_RULE in refused.json()["message"]


async def test_repositories_named_in_any_script_over_rest(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client, "namer")
    created = await client.post("/api/repositories/create", json={"name": "Cafe\u0301 del Mar"}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Café del Mar"
    again = await client.post("/api/repositories/create", json={"name": "CAFÉ DEL MAR"}, headers=headers)
    assert again.status_code == 409 and "letter case" in again.json()["message"]
    bad = await client.post("/api/repositories/create", json={"name": "zero\u200bwidth"}, headers=headers)
    assert bad.status_code == 400 and naming.REPOSITORY_NAME_RULE in bad.json()["message"]
