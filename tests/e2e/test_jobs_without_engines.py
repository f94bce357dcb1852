"""Jobs through the gateway while engine services are down.

A real generator and separator (their gRPC servers and the shared job queue in PostgreSQL, no
workers, so a job stays queued until cancelled) and the gateway in-process. One engine stops;
a separation job is still read, watched and cancelled through the gateway; with no job service
left, job reads are 503 at once.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.audio import tone
from tests.gateway.conftest import in_process_gateway, signed_in

CALL_TIMEOUT_SECONDS = 10


async def _engines(job_service_factory):
    from beatflow_generator.app import build_app as build_generator
    from beatflow_generator.settings import GeneratorSettings
    from beatflow_separator.app import build_app as build_separator
    from beatflow_separator.settings import SeparatorSettings

    generator = await job_service_factory(build_generator, GeneratorSettings, worker_concurrency=0)
    separator = await job_service_factory(build_separator, SeparatorSettings, worker_concurrency=0)
    return {"generator": generator, "separator": separator}


def _sse_events(text: str) -> list[dict]:
    return [json.loads(line.removeprefix("data: ")) for line in text.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize("stopped", ["generator", "separator"])
async def test_a_separation_job_is_read_watched_and_cancelled_with_an_engine_down(job_service_factory, stopped):
    engines = await _engines(job_service_factory)
    async with in_process_gateway(
        vcs_address=f"127.0.0.1:{engines['separator'].vcs.port}",
        generator_address=f"127.0.0.1:{engines['generator'].port}",
        separator_address=f"127.0.0.1:{engines['separator'].port}",
        call_timeout_seconds=CALL_TIMEOUT_SECONDS,
    ) as client:
        headers = await signed_in(client, f"engine-{stopped}-down")
        upload = await client.post(
            "/api/audio/upload", files={"file": ("mix.wav", tone(1.0), "audio/wav")}, headers=headers
        )
        submitted = await client.post(
            "/api/ai/separate-stems", json={"blob_id": upload.json()["blob_id"]}, headers=headers
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["task_id"]
        # This read connects the gateway to the generator, the job service it tries first; then one
        # engine stops for good.
        assert (await client.get(f"/api/jobs/{job_id}", headers=headers)).status_code == 200
        await engines[stopped].app.stop()

        read = await client.get(f"/api/jobs/{job_id}", headers=headers)
        assert read.status_code == 200, read.text
        assert read.json()["kind"] == "separator.separate" and read.json()["status"] == "pending"
        listed = await client.get("/api/jobs", headers=headers)
        assert [job["task_id"] for job in listed.json()["jobs"]] == [job_id]

        watching = asyncio.ensure_future(client.get(f"/api/jobs/{job_id}/events", headers=headers, timeout=30))
        await asyncio.sleep(1.0)  # lets the stream open (opened later, it begins with the cancelled job)
        cancelled = await client.post(f"/api/jobs/{job_id}/cancel", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        stream = await watching
        assert "event: error" not in stream.text
        assert _sse_events(stream.text)[-1]["status"] == "cancelled"
        assert (await client.get(f"/api/ai/status/{job_id}", headers=headers)).json()["status"] == "cancelled"

        # With no job service left, a job read is a prompt 503, not a hang.
        survivor = "separator" if stopped == "generator" else "generator"
        await engines[survivor].app.stop()
        started = time.perf_counter()
        gone = await client.get(f"/api/jobs/{job_id}", headers=headers)
        assert gone.status_code == 503 and gone.json()["code"] == "UNAVAILABLE"
        assert time.perf_counter() - started < CALL_TIMEOUT_SECONDS
