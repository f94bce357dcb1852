"""Creative operations spliced into the source commit's stored stems (FLAC, decoded), as the service
runs them: only the new bars are rendered, what is kept is the committed audio sample for sample,
and the new material is the same as when the whole source is re-rendered from its spec."""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import json_format, struct_pb2

from beatflow_audio import codec
from beatflow_audio.theory import Key
from beatflow_generator import spec as specs
from beatflow_generator.engines.base import SourceAudio
from beatflow_generator.engines.procedural import mixing, operations
from beatflow_generator.engines.procedural.engine import SAMPLE_RATE, ProceduralEngine
from beatflow_generator.jobs import takes_source_audio
from beatflow_generator.provenance import MARK, Provenance, recorded_mix_scale
from beatflow_generator.spec import GenerationSpec, Operation, derive
from beatflow_platform.errors import InvalidArgument

ENGINE = ProceduralEngine()
BPM = 160
BAR = 240 / BPM  # 1.5 s
SOURCE = GenerationSpec(
    prompt="funk with organ",
    bpm=BPM,
    mood="",
    duration_seconds=16 * BAR,
    key=Key.parse("D dorian"),
    engine="procedural",
    seed=12,
)
FADE = round(mixing.FADE_SECONDS * SAMPLE_RATE)
REPAINT_FADE = round(operations.REPAINT_FADE_SECONDS * SAMPLE_RATE)


def quiet(*_) -> None:
    """Progress nobody watches."""


@pytest.fixture(scope="module")
def source():
    return ENGINE.render(SOURCE, quiet)


@pytest.fixture(scope="module")
def committed(source) -> SourceAudio:
    """The source as the service hands it over: each stem stored as 16-bit FLAC and decoded, with
    the mix scale its provenance records."""
    stems = {name: codec.decode(codec.encode(stem, SAMPLE_RATE, "FLAC"))[0] for name, stem in source.stems.items()}
    del stems["mix"]
    return SourceAudio(stems, SAMPLE_RATE, source.mix_scale)


@pytest.fixture
def rendered_seconds(monkeypatch) -> list[float]:
    """The length of every rendering the operations ask for."""
    calls = []
    original = operations.render_stems

    def recording(parts, bpm, seconds, rate, seed):
        calls.append(seconds)
        return original(parts, bpm, seconds, rate, seed)

    monkeypatch.setattr(operations, "render_stems", recording)
    return calls


def test_repaint_keeps_the_committed_samples_and_renders_only_the_bars_it_changes(committed, rendered_seconds):
    request = derive(SOURCE, Operation(specs.REPAINT, start_seconds=6 * BAR, end_seconds=9 * BAR), seed=4)
    spliced = ENGINE.render(request, quiet, None, committed)
    assert max(rendered_seconds) < 8 * BAR, rendered_seconds  # the window, not the 16-bar source
    first, last = round(6 * BAR * SAMPLE_RATE), round(9 * BAR * SAMPLE_RATE)
    whole = ENGINE.render(request, quiet)  # the source re-rendered from its spec
    assert spliced.mix_scale == whole.mix_scale == committed.mix_scale
    for name, stem in committed.stems.items():
        np.testing.assert_array_equal(spliced.stems[name][:first], stem[:first], err_msg=name)
        np.testing.assert_array_equal(spliced.stems[name][last:], stem[last:], err_msg=name)
        inside = slice(first + REPAINT_FADE, last - REPAINT_FADE)
        np.testing.assert_array_equal(spliced.stems[name][inside], whole.stems[name][inside], err_msg=name)
    assert not np.array_equal(spliced.stems["chords"][first:last], committed.stems["chords"][first:last])
    assert spliced.report == whole.report


def test_continue_keeps_the_committed_samples_up_to_the_join(committed, rendered_seconds):
    request = derive(SOURCE, Operation(specs.CONTINUE, bars=4), seed=6)
    spliced = ENGINE.render(request, quiet, None, committed)
    assert max(rendered_seconds) < 8 * BAR, rendered_seconds
    whole = ENGINE.render(request, quiet)
    join = round(16 * BAR * SAMPLE_RATE)
    for name, stem in committed.stems.items():
        assert spliced.stems[name].shape == (round(20 * BAR * SAMPLE_RATE), 2), name
        np.testing.assert_array_equal(spliced.stems[name][: join - FADE], stem[: join - FADE], err_msg=name)
        np.testing.assert_array_equal(spliced.stems[name][join:], whole.stems[name][join:], err_msg=name)
    assert np.abs(spliced.stems["mix"][join:]).max() > 0.05


def test_redo_stem_keeps_the_other_committed_stems_byte_for_byte(committed):
    request = derive(SOURCE, Operation(specs.REDO_STEM, stem="bass"), seed=8)
    vocals = np.full_like(committed.stems["bass"], 0.25)  # kept from the branch the source landed on
    spliced = ENGINE.render(
        request, quiet, None, SourceAudio({**committed.stems, "vocals": vocals}, SAMPLE_RATE, committed.mix_scale)
    )
    assert set(spliced.stems) == {*committed.stems, "mix"}
    for name in set(committed.stems) - {"bass"}:
        assert codec.encode(spliced.stems[name], SAMPLE_RATE, "FLAC") == codec.encode(
            committed.stems[name], SAMPLE_RATE, "FLAC"
        ), name
    np.testing.assert_array_equal(spliced.stems["bass"], ENGINE.render(request, quiet).stems["bass"])
    assert not np.array_equal(spliced.stems["bass"], committed.stems["bass"])


@pytest.mark.parametrize(
    "unusable",
    [
        lambda audio: SourceAudio(audio.stems, SAMPLE_RATE, 0.0),  # a commit made before the scale was recorded
        lambda audio: SourceAudio({"mix": audio.mix()}, SAMPLE_RATE, audio.mix_scale),  # not its stems
        lambda audio: SourceAudio({**audio.stems, "bass": audio.stems["bass"][:, :1]}, SAMPLE_RATE, audio.mix_scale),
        lambda audio: SourceAudio({n: s[:-1] for n, s in audio.stems.items()}, SAMPLE_RATE, audio.mix_scale),
    ],
)
def test_source_audio_that_does_not_match_the_notes_falls_back_to_the_spec(committed, unusable):
    request = derive(SOURCE, Operation(specs.REPAINT, start_seconds=3 * BAR, end_seconds=4 * BAR), seed=10)
    fallback = ENGINE.render(request, quiet, None, unusable(committed))
    assert fallback.stems["mix"].tobytes() == ENGINE.render(request, quiet).stems["mix"].tobytes()


def test_the_mix_scale_survives_a_commits_generation_params(source):
    record = Provenance(
        engine="procedural",
        engine_version="1",
        model_revision="",
        renderer=source.renderer,
        spec=SOURCE,
        source_commit_id="",
        midi={},
        mix_scale=source.mix_scale,
    )
    params = struct_pb2.Struct()
    params.update(record.as_params())
    read = json_format.MessageToDict(params)
    assert np.float32(recorded_mix_scale(read)) == np.float32(source.mix_scale)
    assert Provenance.from_params(read, "c1").mix_scale == source.mix_scale
    assert recorded_mix_scale({"mix_scale": 0.5}) == 0.0  # not this service's provenance
    assert recorded_mix_scale({"generated_by": MARK}) == 0.0


def test_only_engines_that_take_audio_get_the_source_and_loops_never_do():
    class FromSpec:
        source_input = "spec"

    continued = derive(SOURCE, Operation(specs.CONTINUE, bars=2))
    assert takes_source_audio(ENGINE, continued)
    assert not takes_source_audio(FromSpec(), continued)
    assert not takes_source_audio(ENGINE, SOURCE)
    assert not takes_source_audio(ENGINE, derive(SOURCE, Operation(specs.LOOP, bars=2)))


def test_a_continuation_past_the_engines_limit_is_refused_naming_its_bars():
    bar = 240 / 120
    fits = Operation(specs.CONTINUE, bars=15)  # 270 + 30 s: exactly the limit
    check = dict(source=SOURCE, source_seconds=270.0, stems=(), bpm=120, max_seconds=300.0)
    assert specs.check_operation(fits, **check) == fits
    with pytest.raises(InvalidArgument, match="15 bars fit") as failure:
        specs.check_operation(Operation(specs.CONTINUE, bars=16), **check)
    assert [v.field for v in failure.value.violations] == ["operation.bars"]
    assert 270.0 + 16 * bar > 300.0
