"""GET /api/ai/separation-models: what /separate-stems can name, through the gateway."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Api

pytestmark = pytest.mark.slow


async def test_the_models_that_can_run_are_listed_with_their_stems(api: Api):
    alice = await api.user("alice")
    listed = await api.client.get("/api/ai/separation-models", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    models = {(m["engine"], m["model_name"]): m for m in listed.json()["models"]}
    dsp = models[("dsp", "dsp")]
    assert set(dsp["stems"]) == {"vocals", "drums", "bass", "other"} and dsp["weights_present"]
    assert set(models) == {("dsp", "dsp")}, "the e2e stack configures no Demucs weights folder"
    assert (await api.client.get("/api/ai/separation-models")).status_code == 401
