"""Over REST: listening to a commit (render_url): mute, solo and gain, no clipping, Range, HEAD, ETag, formats,
the cache, and who may listen."""

from __future__ import annotations

import asyncio
import hashlib
import io

import grpc
import numpy as np
import pytest
from beatflow_sdk.client import AsyncBeatFlow, Endpoints

from beatflow.common.v1 import audio_pb2
from beatflow.vcs.v1 import version_control_pb2 as pb
from beatflow_audio import codec
from tests.gateway.conftest import signed_in
from tests.gateway.test_commits_and_public_reads import upload

RATE = 44100
# PCM 16 rounding of each stem and of the mix, with room for the sum of four stems.
PCM_TOLERANCE = 6 / 32768


def sine(seconds: float, frequency: float, amplitude: float, *, rate: int = RATE, stereo_detune: float = 0.0):
    """A sine (mono), or a stereo pair whose right channel is `stereo_detune` Hz higher."""
    t = np.arange(int(seconds * rate)) / rate
    left = amplitude * np.sin(2 * np.pi * frequency * t)
    if not stereo_detune:
        return left.astype(np.float32)
    right = amplitude * np.sin(2 * np.pi * (frequency + stereo_detune) * t)
    return np.stack([left, right], axis=1).astype(np.float32)


def as_stereo(samples: np.ndarray, frames: int) -> np.ndarray:
    """What the mix does to a stem: mono played on both channels, padded with silence to `frames`."""
    stereo = samples if samples.ndim == 2 else np.repeat(samples[:, None], 2, axis=1)
    return np.pad(stereo, ((0, frames - len(stereo)), (0, 0)))


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


async def commit_stems(client, headers, stems: dict[str, bytes], *, public: bool = True) -> tuple[str, dict]:
    name = f"Listen {'public' if public else 'private'}"
    repo = await client.post("/api/repositories/create", json={"name": name, "is_public": public}, headers=headers)
    assert repo.status_code == 201, repo.text
    repo_id = repo.json()["id"]
    blobs = [{"name": name, "blob_id": await upload(client, headers, data)} for name, data in stems.items()]
    response = await client.post(
        f"/api/vcs/commit/{repo_id}", json={"message": "stems", "stems": blobs}, headers=headers
    )
    assert response.status_code == 201, response.text
    return repo_id, response.json()


@pytest.fixture
async def band(gateway_factory):
    """A public commit of three stems: mono drums, a shorter stereo bass, a longer mono keys line."""
    client = await gateway_factory(slow_call_timeout_seconds=30)
    headers = await signed_in(client, "band")
    takes = {
        "drums": sine(2.0, 110.0, 0.2),
        "bass": sine(1.5, 55.0, 0.25, stereo_detune=3.0),
        "keys": sine(2.5, 440.0, 0.15),
    }
    # What the service decodes: the stems after PCM 16 rounding.
    decoded = {}
    encoded = {}
    for name, samples in takes.items():
        encoded[name] = codec.encode(samples, RATE, "WAV")
        decoded[name] = codec.decode(encoded[name])[0]
    _, commit = await commit_stems(client, headers, encoded)
    return client, headers, commit, {name: s if s.shape[1] == 2 else s[:, 0] for name, s in decoded.items()}


def expected_mix(stems: dict[str, np.ndarray], gains_db: dict[str, float]) -> np.ndarray:
    frames = max(len(s) for s in stems.values())
    return sum(as_stereo(stems[name], frames) * 10 ** (gain / 20) for name, gain in gains_db.items())


async def listen(client, url: str, **params) -> tuple[np.ndarray, dict]:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    samples, rate = codec.decode(response.content)
    assert rate == RATE
    return samples, response.headers


async def test_commit_carries_render_url_and_mix_follows_mute_solo_and_gain(band):
    client, _, commit, stems = band
    url = commit["render_url"]
    assert url == f"/api/vcs/commit/{commit['id']}/render"
    fetched = await client.get(f"/api/vcs/commit/{commit['id']}")
    assert fetched.json()["render_url"] == url

    cases = [
        ({}, {"drums": 0, "bass": 0, "keys": 0}),
        ({"mute": "drums"}, {"bass": 0, "keys": 0}),
        ({"solo": ["bass", "keys"], "mute": "keys"}, {"bass": 0}),
        ({"gain.keys": "-6", "gain.bass": "3"}, {"drums": 0, "bass": 3, "keys": -6}),
    ]
    for params, gains in cases:
        mix, headers = await listen(client, url, **params)
        assert headers["x-render-cache"] == "miss"
        assert headers["x-headroom-gain-db"] == "0.00"
        expected = expected_mix(stems, gains)
        assert mix.shape == expected.shape, params
        assert np.abs(mix - expected).max() < PCM_TOLERANCE, params

    # The same mix asked again, or spelled differently, comes from the cache.
    _, again = await listen(client, url, mute="drums")
    _, spelled = await listen(client, url, solo="bass,keys")
    assert again["x-render-cache"] == spelled["x-render-cache"] == "hit"
    assert again["etag"] == spelled["etag"]


async def test_stems_of_other_rates_are_resampled_and_a_loud_sum_is_turned_down(gateway_factory):
    client = await gateway_factory(slow_call_timeout_seconds=30)
    headers = await signed_in(client, "loud")
    low = sine(1.0, 300.0, 0.8, rate=22050)
    high = sine(2.0, 300.0, 0.8, rate=96000)
    _, commit = await commit_stems(
        client, headers, {"low": codec.encode(low, 22050, "WAV"), "high": codec.encode(high, 96000, "FLAC")}
    )
    response = await client.get(commit["render_url"])
    assert response.status_code == 200, response.text
    mix, rate = codec.decode(response.content)
    assert rate == 96000 and mix.shape == (192000, 1)
    # Both stems in phase sum to 1.6: the whole mix is turned down to peak at -0.1 dBFS, not clipped.
    headroom_db = float(response.headers["x-headroom-gain-db"])
    assert headroom_db == pytest.approx(20 * np.log10(10 ** (-0.1 / 20) / 1.6), abs=0.05)
    assert 0.97 < np.abs(mix).max() < 1.0
    # After the first second only the 96 kHz stem plays, exactly, at the same gain.
    expected_tail = high[100000:180000] * 10 ** (headroom_db / 20)
    assert np.abs(mix[100000:180000, 0] - expected_tail).max() < 0.01
    # During the first second the 22.05 kHz stem, resampled, doubles it: same pitch, phase and length.
    assert rms(mix[9600:86400]) == pytest.approx(2 * rms(mix[105600:182400]), rel=0.01)

    # MP3 (at most 48 kHz) is rendered at 48 kHz.
    mp3 = await client.get(commit["render_url"], params={"format": "mp3"})
    decoded, mp3_rate = codec.decode(mp3.content)
    assert mp3_rate == 48000 and abs(len(decoded) - 96000) < 0.05 * 48000


async def test_samples_that_are_not_numbers_play_as_silence_in_a_render(gateway_factory):
    client = await gateway_factory(slow_call_timeout_seconds=30)
    headers = await signed_in(client, "glitch")
    bass = sine(2.0, 110.0, 0.3)
    keys = sine(2.0, 440.0, 0.3)
    keys[RATE // 2 : RATE] = np.nan  # as a faulty plug-in can leave in a float file
    _, commit = await commit_stems(
        client,
        headers,
        {"bass": codec.encode(bass, RATE, "WAV"), "keys": codec.encode(keys, RATE, "WAV", subtype="FLOAT")},
    )
    response = await client.get(commit["render_url"])
    assert response.status_code == 200, response.text
    mix, _ = codec.decode(response.content)
    assert np.abs(mix[RATE // 2 : RATE, 0] - bass[RATE // 2 : RATE]).max() < 0.01  # the bass alone: no clicks
    clean = RATE + RATE // 4
    assert np.abs(mix[clean : clean + RATE // 2, 0] - (bass + keys)[clean : clean + RATE // 2]).max() < 0.01


async def test_range_head_etag_and_formats(band):
    client, _, commit, _ = band
    url = commit["render_url"]
    full = await client.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "audio/wav"
    assert full.headers["accept-ranges"] == "bytes"
    assert int(full.headers["content-length"]) == len(full.content)
    etag = full.headers["etag"]

    part = await client.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{len(full.content)}"
    assert part.content == full.content[100:1100]
    suffix = await client.get(url, headers={"Range": "bytes=-10"})
    assert suffix.status_code == 206 and suffix.content == full.content[-10:]
    beyond = await client.get(url, headers={"Range": f"bytes={len(full.content)}-"})
    assert beyond.status_code == 416

    head = await client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(full.content)) and head.headers["etag"] == etag
    assert (await client.get(url, headers={"If-None-Match": etag})).status_code == 304

    wav, _ = codec.decode(full.content)
    content_types = {"flac": "audio/flac", "mp3": "audio/mpeg", "ogg": "audio/ogg"}
    for audio_format, content_type in content_types.items():
        response = await client.get(url, params={"format": audio_format})
        assert response.status_code == 200 and response.headers["content-type"] == content_type
        decoded, rate = codec.decode(response.content)
        assert rate == RATE and decoded.shape[1] == 2
        assert abs(len(decoded) - len(wav)) < 0.05 * RATE
        if audio_format == "flac":
            assert np.array_equal(decoded, wav)  # lossless: the same samples
        else:
            assert rms(decoded) == pytest.approx(rms(wav), rel=0.1)


async def test_concurrent_first_requests_share_one_render(band):
    client, _, commit, _ = band
    url = commit["render_url"]
    responses = await asyncio.gather(*(client.get(url, params={"gain.drums": "-12"}) for _ in range(3)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.headers["etag"] for r in responses}) == 1
    assert len({r.content for r in responses}) == 1
    later = await client.get(url, params={"gain.drums": "-12.0"})
    assert later.headers["x-render-cache"] == "hit" and later.content == responses[0].content


async def test_private_commits_are_not_found_by_strangers_and_bad_mixes_are_400(gateway_factory):
    client = await gateway_factory(slow_call_timeout_seconds=30)
    owner = await signed_in(client, "owner")
    stranger = await signed_in(client, "stranger")
    stems = {"drums": codec.encode(sine(0.5, 110.0, 0.2), RATE, "WAV")}
    _, private = await commit_stems(client, owner, stems, public=False)
    _, public = await commit_stems(client, owner, stems, public=True)

    assert (await client.get(private["render_url"])).status_code == 404
    assert (await client.get(private["render_url"], headers=stranger)).status_code == 404
    assert (await client.head(private["render_url"])).status_code == 404
    assert (await client.get(private["render_url"], headers=owner)).status_code == 200
    assert (await client.get(public["render_url"])).status_code == 200

    url = public["render_url"]
    unknown = await client.get(url, params={"mute": "drums,guitar", "solo": "vox"})
    assert unknown.status_code == 400
    body = unknown.json()
    assert "guitar" in body["message"] and "vox" in body["message"]
    info = next(d for d in body["details"] if d["type"] == "ErrorInfo")
    assert info["reason"] == "UNKNOWN_STEM" and info["metadata"]["unknown_stems"] == "guitar,vox"
    violations = next(d for d in body["details"] if d["type"] == "BadRequest")["field_violations"]
    assert {v["field"] for v in violations} == {"mute", "solo"}
    for params in (
        {"gain.drums": "13"},
        {"gain.drums": "loud"},
        {"gain.drums": "nan"},
        {"format": "aiff"},
        {"gian.drums": "-3"},
        {"mute": "drums"},
    ):
        response = await client.get(url, params=params)
        assert response.status_code == 400, (params, response.text)


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_a_media_element_plays_a_private_commit_with_the_token_in_the_query(gateway_factory):
    """<audio src> and <img src> cannot send headers: renders, downloads and diff pictures take `access_token`."""
    client = await gateway_factory(slow_call_timeout_seconds=30)
    owner = await signed_in(client, "owner")
    stranger = await signed_in(client, "stranger")
    stems = {"drums": codec.encode(sine(0.5, 110.0, 0.2), RATE, "WAV")}
    repo_id, private = await commit_stems(client, owner, stems, public=False)
    blob_id = private["stems"][0]["blob_id"]
    urls = {
        private["render_url"]: {},
        f"/api/audio/download/{blob_id}": {},
        f"/api/vcs/repos/{repo_id}/diff/picture": {"base": private["id"], "stem": "drums"},
    }
    for url, params in urls.items():
        by_header = await client.get(url, params=params, headers=owner)
        in_query = await client.get(url, params={**params, "access_token": token_of(owner)})
        assert in_query.status_code == by_header.status_code == 200, (url, in_query.text)
        assert in_query.content == by_header.content
        stranger_query = {**params, "access_token": token_of(stranger)}
        assert (await client.get(url, params=stranger_query)).status_code == 404, url
        assert (await client.get(url, params={**params, "access_token": "forged"})).status_code == 401, url
        header_wins = await client.get(url, params=stranger_query, headers=owner)
        assert header_wins.status_code == 200 and header_wins.content == by_header.content, url


async def test_sdk_listens_over_grpc_and_a_stale_render_id_is_aborted(vcs):
    owner = await vcs.sign_up()
    repo = await owner.create_repo("sdk")
    pad = sine(0.5, 220.0, 0.3)
    blob = await owner.upload(codec.encode(pad, RATE, "WAV"))
    commit = await owner.commit(repo.repo_id, {"pad": blob.blob_id})
    request = pb.RenderCommitRequest(
        commit_id=commit.commit_id, format=audio_pb2.AUDIO_FORMAT_FLAC, gain_db={"pad": -6.0}
    )
    out = io.BytesIO()
    async with AsyncBeatFlow(Endpoints(vcs=f"127.0.0.1:{vcs.port}"), token=owner.tokens.access_token) as beatflow:
        render = await beatflow.listen(request, out)
    data = out.getvalue()
    assert render.size_bytes == len(data) and hashlib.sha256(data).hexdigest() == render.render_id
    assert render.content_type == "audio/flac" and list(render.stems) == ["pad"] and not render.cached
    mix, _ = codec.decode(data)
    assert np.abs(mix[:, 0] - pad * 10 ** (-6 / 20)).max() < 2 / 32768

    part = owner.vc.DownloadRender(pb.DownloadRenderRequest(render=request, offset=10, length=100))
    assert b"".join([message.chunk async for message in part]) == data[10:110]
    stale = owner.vc.DownloadRender(pb.DownloadRenderRequest(render=request, render_id="0" * 64))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        _ = [message async for message in stale]
    assert caught.value.code() == grpc.StatusCode.ABORTED
