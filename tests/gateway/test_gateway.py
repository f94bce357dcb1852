"""The gateway in-process (ASGI) over a real vcs: limits, ranges, CORS and unavailable backends."""

from __future__ import annotations

import asyncio
import json

from beatflow_devtools.network import free_port
from tests.audio import tone
from tests.gateway.conftest import in_process_gateway, signed_in


async def test_upload_limits_are_413_and_non_audio_415(gateway_factory):
    client = await gateway_factory(max_upload_bytes=50_000)
    headers = await signed_in(client)
    too_big = await client.post(
        "/api/audio/upload", files={"file": ("big.wav", tone(2.0), "audio/wav")}, headers=headers
    )
    assert too_big.status_code == 413 and too_big.json()["code"] == "PAYLOAD_TOO_LARGE"
    small = await client.post(
        "/api/audio/upload", files={"file": ("s.wav", tone(0.2, channels=1), "audio/wav")}, headers=headers
    )
    assert small.status_code == 201 and small.json()["size"] < 50_000
    text = await client.post("/api/audio/upload", files={"file": ("x.wav", b"hello", "audio/wav")}, headers=headers)
    assert text.status_code == 415 and text.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_ranges(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client)
    data = tone(0.5)
    blob_id = (
        await client.post("/api/audio/upload", files={"file": ("t.wav", data, "audio/wav")}, headers=headers)
    ).json()["blob_id"]
    url = f"/api/audio/download/{blob_id}"
    suffix = await client.get(url, headers={**headers, "Range": "bytes=-100"})
    assert suffix.status_code == 206 and suffix.content == data[-100:]
    open_ended = await client.get(url, headers={**headers, "Range": f"bytes={len(data) - 10}-"})
    assert open_ended.content == data[-10:]
    for bad in (f"bytes={len(data)}-", "bytes=5-2", "items=0-1", "bytes=0-1,5-6"):
        response = await client.get(url, headers={**headers, "Range": bad})
        assert response.status_code == 416, bad
    whole = await client.get(url, headers=headers)
    assert whole.content == data and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].endswith('.wav"')


async def test_unavailable_backends_are_503_not_a_hang(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client)
    response = await client.post("/api/ai/generate", json={"prompt": "house"}, headers=headers)
    assert response.status_code == 503 and response.json()["code"] == "UNAVAILABLE"
    health = await client.get("/health")
    assert health.status_code == 503 and health.json()["services"]["vcs"] == "SERVING"


async def test_cors_only_for_configured_origins(gateway_factory):
    client = await gateway_factory(cors_origins=["https://studio.example"])
    allowed = await client.options(
        "/api/repositories", headers={"Origin": "https://studio.example", "Access-Control-Request-Method": "GET"}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://studio.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = await client.options(
        "/api/repositories", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in other.headers
    wildcard = await gateway_factory(cors_origins=["*"])
    response = await wildcard.options(
        "/api/repositories", headers={"Origin": "https://any.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-credentials" not in response.headers


async def test_request_ids_are_echoed(gateway_factory):
    client = await gateway_factory()
    response = await client.get("/", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    generated = await client.get("/", headers={"X-Request-ID": "bad id!"})
    assert len(generated.headers["x-request-id"]) == 32


async def test_errors_have_one_shape(gateway_factory):
    client = await gateway_factory()
    headers = await signed_in(client)
    for response in (
        await client.get("/api/repositories/not-a-uuid", headers=headers),
        await client.get("/no/such/route"),
        await client.post("/api/repositories/create", json={"name": 5, "extra": True}, headers=headers),
        await client.post("/api/auth/login", json={"login": "gwuser", "password": "wrong password"}),
    ):
        body = response.json()
        assert set(body) == {"code", "message", "details"}, body
        assert 400 <= response.status_code < 500


async def test_brute_force_logins_get_429_with_retry_after(gateway_factory):
    client = await gateway_factory()
    await signed_in(client, "victim")
    statuses = []
    for _ in range(6):
        response = await client.post("/api/auth/login", json={"login": "victim", "password": "not the password"})
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429]
    assert int(response.headers["retry-after"]) > 0 and response.json()["code"] == "RESOURCE_EXHAUSTED"


async def test_live_progress_outlives_a_job_service_restart(job_service_factory):
    """The generator behind an open SSE stream restarts; the stream carries on to the job's end."""
    from beatflow_generator.app import build_app
    from beatflow_generator.settings import GeneratorSettings

    port = free_port()
    old = await job_service_factory(build_app, GeneratorSettings, grpc_port=port, worker_concurrency=0)
    async with in_process_gateway(
        vcs_address=f"127.0.0.1:{old.vcs.port}",
        generator_address=f"127.0.0.1:{port}",
        separator_address=f"127.0.0.1:{free_port()}",
    ) as client:
        headers = await signed_in(client, "restarts")
        job = (await client.post("/api/ai/generate", json={"prompt": "dub", "duration": 5}, headers=headers)).json()

        async def restart() -> None:
            await asyncio.sleep(1.0)  # the stream is open and has sent the queued snapshot
            await old.app.stop()
            await job_service_factory(build_app, GeneratorSettings, grpc_port=port, worker_concurrency=1)

        restarting = asyncio.ensure_future(restart())
        stream = await client.get(f"/api/jobs/{job['task_id']}/events", headers=headers, timeout=60)
        await restarting
    events = [json.loads(line[len("data: ") :]) for line in stream.text.splitlines() if line.startswith("data: ")]
    assert "event: error" not in stream.text
    assert events[0]["status"] == "pending" and events[-1]["status"] == "success"
