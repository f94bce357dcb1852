"""Uploads over REST into a real vcs: every exported format is stored and described, broken files are
415 with the reason and leave nothing behind, MIDI files are blobs but never stems."""

from __future__ import annotations

import hashlib
import io

import httpx
import numpy as np
import pretty_midi
import pytest
import soundfile

from beatflow.common.v1 import audio_pb2
from beatflow_audio.proto import FORMAT_TO_PROTO
from tests.gateway.conftest import signed_in

RATE = 48000
SECONDS = 1.5


def take() -> np.ndarray:
    """A chord with a decaying envelope, stereo."""
    t = np.arange(int(SECONDS * RATE)) / RATE
    mono = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.2 * np.exp(-t)
    return np.stack([mono, 0.5 * mono], axis=1).astype(np.float32)


def written(container: str, subtype: str, samples: np.ndarray | None = None) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, take() if samples is None else samples, RATE, format=container, subtype=subtype)
    return buffer.getvalue()


def midi_file() -> bytes:
    midi = pretty_midi.PrettyMIDI()
    bass = pretty_midi.Instrument(program=33)
    bass.notes = [pretty_midi.Note(velocity=100, pitch=40 + i, start=i * 0.5, end=i * 0.5 + 0.4) for i in range(4)]
    midi.instruments.append(bass)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


async def upload(client: httpx.AsyncClient, headers: dict, filename: str, data: bytes) -> httpx.Response:
    return await client.post(
        "/api/audio/upload", files={"file": (filename, data, "application/octet-stream")}, headers=headers
    )


# (file name, container and subtype written, the format name vcs stores, content type)
GOOD = [
    ("take-24.wav", "WAVEX", "PCM_24", "WAV", "audio/wav"),
    ("take-float.wav", "WAV", "FLOAT", "WAV", "audio/wav"),
    ("take.aiff", "AIFF", "PCM_24", "AIFF", "audio/aiff"),
    ("take-24.flac", "FLAC", "PCM_24", "FLAC", "audio/flac"),
    ("take.mp3", "MP3", "MPEG_LAYER_III", "MP3", "audio/mpeg"),
    ("take.ogg", "OGG", "VORBIS", "OGG", "audio/ogg"),
]


async def test_every_exported_format_is_stored_and_described(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client, "exporter")
    for filename, container, subtype, name, content_type in GOOD:
        data = written(container, subtype)
        response = await upload(client, headers, filename, data)
        assert response.status_code == 201, (filename, response.text)
        blob = response.json()
        assert blob["blob_id"] == hashlib.sha256(data).hexdigest() and blob["content_type"] == content_type
        assert (blob["audio"]["sample_rate"], blob["audio"]["channels"]) == (RATE, 2), filename
        assert blob["audio"]["duration_seconds"] == pytest.approx(SECONDS, abs=0.06), filename
        expected_enum = audio_pb2.AudioFormat.Name(FORMAT_TO_PROTO.get(name, audio_pb2.AUDIO_FORMAT_UNSPECIFIED))
        assert blob["audio"]["format"] == expected_enum, filename
        download = await client.get(f"/api/audio/download/{blob['blob_id']}", headers=headers)
        assert download.status_code == 200 and download.content == data, filename


def broken_files() -> dict[str, bytes]:
    wav, flac = written("WAVEX", "PCM_24"), written("FLAC", "PCM_24")
    mp3, ogg = written("MP3", "MPEG_LAYER_III"), written("OGG", "VORBIS")
    noise = np.random.default_rng(3).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    return {
        "cut.wav": wav[: len(wav) * 2 // 3],
        "cut.flac": flac[: len(flac) * 2 // 3],
        "cut.mp3": mp3[: len(mp3) * 2 // 3],
        "cut.ogg": ogg[: len(ogg) * 2 // 3],
        "header-only.wav": wav[:60],
        "noise-with-header.wav": wav[:12] + noise,
        "no-frames.wav": written("WAV", "PCM_16", take()[:0]),
        "lyrics.wav": b"I wrote these words for you\n" * 30,
        "cut.mid": midi_file()[:30],
    }


async def test_broken_files_are_415_with_the_reason_and_nothing_is_stored(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client, "breaker")
    for filename, data in broken_files().items():
        response = await upload(client, headers, filename, data)
        assert response.status_code == 415, (filename, response.text)
        body = response.json()
        assert body["code"] == "UNSUPPORTED_MEDIA_TYPE" and body["message"], filename
        assert [d["reason"] for d in body["details"] if d["type"] == "ErrorInfo"] == ["NOT_AUDIO"], filename
        stored = await client.get(f"/api/audio/download/{hashlib.sha256(data).hexdigest()}", headers=headers)
        assert stored.status_code == 404, filename
    truncated = (await upload(client, headers, "cut.wav", broken_files()["cut.wav"])).json()
    assert "truncated" in truncated["message"]


async def test_midi_files_are_blobs_but_a_commit_refuses_them_as_stems(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client, "arranger")
    response = await upload(client, headers, "bass.mid", midi_file())
    assert response.status_code == 201, response.text
    midi = response.json()
    assert midi["content_type"] == "audio/midi"
    assert midi["audio"]["duration_seconds"] == pytest.approx(1.9, abs=0.01)
    assert (midi["audio"]["sample_rate"], midi["audio"]["channels"]) == (0, 0)
    download = await client.get(f"/api/audio/download/{midi['blob_id']}", headers=headers)
    assert download.headers["content-type"] == "audio/midi" and download.content == midi_file()
    assert 'filename="' in download.headers["content-disposition"] and ".mid" in download.headers["content-disposition"]

    audio = (await upload(client, headers, "bass.wav", written("WAV", "PCM_16"))).json()
    repo_id = (await client.post("/api/repositories/create", json={"name": "Bassline"}, headers=headers)).json()["id"]
    refused = await client.post(
        f"/api/vcs/commit/{repo_id}",
        json={
            "message": "bass",
            "stems": [{"name": "bass", "blob_id": audio["blob_id"]}, {"name": "notes", "blob_id": midi["blob_id"]}],
        },
        headers=headers,
    )
    assert refused.status_code == 400, refused.text
    assert "MIDI, not audio" in refused.json()["message"]
    assert [d["reason"] for d in refused.json()["details"] if d["type"] == "ErrorInfo"] == ["STEM_NOT_AUDIO"]
    accepted = await client.post(
        f"/api/vcs/commit/{repo_id}",
        json={"message": "bass", "stems": [{"name": "bass", "blob_id": audio["blob_id"]}]},
        headers=headers,
    )
    assert accepted.status_code == 201, accepted.text
