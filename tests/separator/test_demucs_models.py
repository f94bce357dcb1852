"""Separation models by name: what a weights directory offers, and how a request for one is judged."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_platform.errors import FailedPrecondition, InvalidArgument
from beatflow_separator.engines.base import SeparationOptions
from beatflow_separator.engines.demucs_engine import DemucsSeparator
from beatflow_separator.engines.registry import default_separators
from tests.separator import tiny_demucs


@pytest.fixture
def weights(tmp_path):
    tiny_demucs.build(tmp_path, "htdemucs", "0a1b2c3d")
    tiny_demucs.build(tmp_path, "htdemucs_6s", "6a6b6c6d", sources=tiny_demucs.SIX_SOURCES)
    tiny_demucs.build(tmp_path, "vocals_2s", "2a2b2c2d", sources=("vocals", "accompaniment"))
    tiny_demucs.save_bag(tmp_path, "htdemucs_ft", ["0a1b2c3d", "feedbeef"])  # one of its two files is absent
    return tmp_path


def test_every_bag_is_listed_with_its_stems_and_whether_its_weights_are_here(weights):
    models = {m.name: m for m in DemucsSeparator(weights).models()}
    assert set(models) == {"htdemucs", "htdemucs_6s", "htdemucs_ft", "vocals_2s"}
    assert models["htdemucs"].stems == tiny_demucs.SOURCES
    assert len(models["htdemucs_6s"].stems) == 6 and models["vocals_2s"].stems == ("vocals", "accompaniment")
    assert all(models[n].weights_present for n in ("htdemucs", "htdemucs_6s", "vocals_2s"))
    assert not models["htdemucs_ft"].weights_present and "feedbeef" in models["htdemucs_ft"].detail


def test_the_registry_lists_the_weight_free_engine_beside_demucs(weights):
    listed = {(m.engine, m.name): m for m in default_separators(weights).models()}
    assert listed[("dsp", "dsp")].weights_present and len(listed[("dsp", "dsp")].stems) == 4
    assert ("demucs", "htdemucs_6s") in listed


def test_unknown_models_name_the_available_ones_and_missing_weights_are_a_precondition(weights):
    separators = default_separators(weights)
    demucs = separators.ready("demucs")
    with pytest.raises(InvalidArgument) as unknown:
        separators.resolve(demucs, "umx")
    assert "htdemucs, htdemucs_6s, htdemucs_ft, vocals_2s" in unknown.value.message
    with pytest.raises(FailedPrecondition):
        separators.resolve(demucs, "htdemucs_ft")
    with pytest.raises(InvalidArgument):
        separators.resolve(separators.ready("dsp"), "htdemucs")
    assert separators.resolve(demucs, "")[0] == "htdemucs"
    assert separators.resolve(separators.ready(""), "")[0] == "dsp"


def test_the_revision_follows_the_weight_files(weights):
    demucs = DemucsSeparator(weights)
    before = demucs.revision("htdemucs")
    assert before == DemucsSeparator(weights).revision("htdemucs") and before != demucs.revision("vocals_2s")
    tiny_demucs.save_model(weights, "0a1b2c3d", seed=5)
    assert demucs.revision("htdemucs") != before


def test_six_and_two_stem_models_write_their_own_stems(weights):
    demucs = DemucsSeparator(weights)
    samples = np.random.default_rng(0).uniform(-0.3, 0.3, (22050, 2)).astype(np.float32)

    class Mix:
        rate, channels, frames = 44100, 2, len(samples)

        def read(self, start, stop):
            return samples[start:stop]

        def blocks(self, frames):
            yield samples

    for name, count in (("htdemucs_6s", 6), ("vocals_2s", 2)):
        stream = demucs.separate_stream(Mix(), SeparationOptions(model_name=name), lambda *_: None)
        blocks = list(stream.blocks)
        assert len(stream.stems) == count and all(set(b) == set(stream.stems) for b in blocks)
        assert sum(len(b["vocals"]) for b in blocks) == len(samples)


def test_a_segment_longer_than_the_model_was_trained_on_is_refused(weights):
    demucs = DemucsSeparator(weights)
    with pytest.raises(InvalidArgument):
        demucs.passes(demucs.model("htdemucs"), 44100, SeparationOptions(segment_seconds=1.5))


def test_unconfigured_demucs_is_unavailable(tmp_path):
    assert not DemucsSeparator(None).available()[0]
    assert not DemucsSeparator(tmp_path).available()[0]
    assert DemucsSeparator(tmp_path).models() == []
