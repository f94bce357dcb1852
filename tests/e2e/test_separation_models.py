"""GET /api/ai/separation-models: what /separate-stems can name, through the gateway."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Api

pytestmark = pytest.mark.slow


async def test_models_are_listed_with_their_stems_and_whether_they_can_run(api: Api):
    alice = await api.user("alice")
    listed = await api.client.get("/api/ai/separation-models", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    models = {(m["engine"], m["model_name"]): m for m in listed.json()["models"]}
    dsp = models[("dsp", "dsp")]
    assert set(dsp["stems"]) == {"vocals", "drums", "bass", "other"} and dsp["weights_present"]
    demucs = [m for (engine, _), m in models.items() if engine == "demucs"]
    assert demucs and not any(m["weights_present"] for m in demucs), "the e2e stack mounts no weights"
    assert all(m["detail"] for m in demucs)
    assert (await api.client.get("/api/ai/separation-models")).status_code == 401
