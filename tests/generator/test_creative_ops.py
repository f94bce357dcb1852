"""Creative operations of the procedural engine on real FluidSynth renderings: continue, repaint,
redo one stem, loop, variations; what each keeps is compared sample for sample with the source."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from beatflow_audio.theory import Key
from beatflow_generator import spec as specs
from beatflow_generator.engines.procedural import mixing
from beatflow_generator.engines.procedural.engine import SAMPLE_RATE, ProceduralEngine
from beatflow_generator.engines.procedural.seams import join_figures, seam_figures
from beatflow_generator.spec import GenerationSpec, Operation, derive
from beatflow_platform.errors import InvalidArgument

ENGINE = ProceduralEngine()
BPM = 160
BAR = 240 / BPM  # 1.5 s
SOURCE = GenerationSpec(
    prompt="lofi hip hop with piano",
    bpm=BPM,
    mood="",
    duration_seconds=8 * BAR,
    key=Key.parse("A minor"),
    engine="procedural",
    seed=5,
)
FADE = round(mixing.FADE_SECONDS * SAMPLE_RATE)


def render(request: GenerationSpec):
    return ENGINE.render(request, lambda *_: None)


@pytest.fixture(scope="module")
def source():
    return render(SOURCE)


@pytest.fixture(scope="module")
def continued():
    return render(derive(SOURCE, Operation(specs.CONTINUE, bars=4), seed=9))


def notes(rendering, stem):
    return sorted((n.start, n.end, n.pitch, n.velocity) for n in rendering.midi[stem].instruments[0].notes)


def test_spec_with_operation_and_source_round_trips_through_its_payload():
    continued = derive(SOURCE, Operation(specs.CONTINUE, bars=4), seed=9)
    repainted = derive(continued, Operation(specs.REPAINT, start_seconds=1.0, end_seconds=2.5), seed=11)
    payload = repainted.as_payload()
    assert payload["source"]["operation"] == Operation(specs.CONTINUE, bars=4).as_payload()
    assert payload["operation"]["start_seconds"] == 1.0
    assert payload["source"]["source"]["seed"] == 5
    assert GenerationSpec.from_payload(payload) == repainted
    older = {
        name: value for name, value in SOURCE.as_payload().items() if name not in ("melody", "operation", "source")
    }
    assert GenerationSpec.from_payload(older) == SOURCE


def test_operations_are_checked_against_their_source():
    with pytest.raises(InvalidArgument) as failure:
        specs.check_operation(
            Operation(specs.REPAINT, start_seconds=5.0, end_seconds=13.0), source=SOURCE, source_seconds=12.0, stems=()
        )
    assert [v.field for v in failure.value.violations] == ["operation.start_seconds"]
    with pytest.raises(InvalidArgument) as failure:
        specs.check_operation(Operation(specs.CONTINUE, bars=65), source=None, source_seconds=0.0, stems=())
    assert {v.field for v in failure.value.violations} == {"operation.bars", "operation.source"}
    with pytest.raises(InvalidArgument, match="bass, drums"):
        specs.check_operation(
            Operation(specs.REDO_STEM, stem="vocals"), source=SOURCE, source_seconds=12.0, stems=("drums", "bass")
        )
    with pytest.raises(InvalidArgument, match=r"operation\.kind"):
        specs.check_operation(Operation("reverse"), source=SOURCE, source_seconds=12.0, stems=())
    loop = Operation(specs.LOOP, bars=4)
    assert specs.check_operation(loop, source=None, source_seconds=12.0, stems=()) == loop
    looped = derive(SOURCE, loop)
    assert specs.check_operation(Operation(specs.LOOP, bars=2), source=looped, source_seconds=6.0, stems=())
    with pytest.raises(InvalidArgument, match="looped again"):
        specs.check_operation(Operation(specs.CONTINUE, bars=2), source=looped, source_seconds=6.0, stems=())
    assert ENGINE.stems(SOURCE) == ("drums", "bass", "chords", "melody")


def test_variations_differ_in_seed_only_and_sound_different():
    batch = specs.variations(dataclasses.replace(SOURCE, duration_seconds=4 * BAR), 3)
    assert batch == specs.variations(dataclasses.replace(SOURCE, duration_seconds=4 * BAR), 3)
    assert batch[0].seed == SOURCE.seed and len({variation.seed for variation in batch}) == 3
    assert {dataclasses.replace(variation, seed=0) for variation in batch} == {dataclasses.replace(batch[0], seed=0)}
    melodies = [notes(render(variation), "melody") for variation in batch]
    assert melodies[0] != melodies[1] and melodies[1] != melodies[2] and melodies[0] != melodies[2]


def test_continue_keeps_the_source_to_its_end_fade_and_adds_bars_in_its_style(source, continued):
    join = len(source.stems["mix"])
    assert continued.report["join_seconds"] == pytest.approx(8 * BAR)
    assert continued.report["duration_seconds"] == pytest.approx(12 * BAR)
    for name, stem in source.stems.items():
        assert continued.stems[name].shape == (round(12 * BAR * SAMPLE_RATE), 2), name
        np.testing.assert_array_equal(continued.stems[name][: join - FADE], stem[: join - FADE], err_msg=name)
        assert np.abs(continued.stems[name][join:]).max() > 0.01, f"{name} is silent after the join"
    assert (continued.bpm, continued.key) == (source.bpm, source.key)
    assert continued.prompt_reading == source.prompt_reading
    for stem in source.midi:
        before = [n for n in notes(continued, stem) if n[0] < 8 * BAR]
        assert before == notes(source, stem), stem
        assert any(n[0] >= 8 * BAR for n in notes(continued, stem)), f"no new {stem} notes"


def test_continue_is_seamless_at_the_join(source, continued):
    mix = continued.stems["mix"]
    figures = join_figures(mix, SAMPLE_RATE, 8 * BAR, BAR)
    assert figures["sample_step_ratio"] < 3, figures
    assert figures["spectral_change_ratio"] < 1.5, figures
    clicked = mix.copy()
    join = len(source.stems["mix"])
    clicked[join : join + 64] += 0.2  # the same measure hears a click
    assert join_figures(clicked, SAMPLE_RATE, 8 * BAR, BAR)["sample_step_ratio"] > 5


def test_repaint_changes_only_the_bars_around_the_range(source):
    repainted = render(derive(SOURCE, Operation(specs.REPAINT, start_seconds=3.4, end_seconds=6.1), seed=21))
    report = repainted.report
    assert (report["start_seconds"], report["end_seconds"]) == (pytest.approx(2 * BAR), pytest.approx(5 * BAR))
    assert (report["first_bar"], report["bar_count"]) == (2, 3)
    first, last = round(2 * BAR * SAMPLE_RATE), round(5 * BAR * SAMPLE_RATE)
    for name, stem in source.stems.items():
        np.testing.assert_array_equal(repainted.stems[name][:first], stem[:first], err_msg=name)
        np.testing.assert_array_equal(repainted.stems[name][last:], stem[last:], err_msg=name)
    assert not np.array_equal(repainted.stems["melody"][first:last], source.stems["melody"][first:last])
    for stem in source.midi:
        outside = [n for n in notes(repainted, stem) if not 2 * BAR <= n[0] < 5 * BAR]
        assert outside == [n for n in notes(source, stem) if not 2 * BAR <= n[0] < 5 * BAR], stem
        assert all(n[1] <= 5 * BAR + 1e-9 for n in notes(repainted, stem) if 2 * BAR <= n[0] < 5 * BAR), stem
    for at in (2 * BAR, 5 * BAR):
        figures = join_figures(repainted.stems["mix"], SAMPLE_RATE, at, BAR)
        assert figures["sample_step_ratio"] < 3 and figures["spectral_change_ratio"] < 1.5, (at, figures)


def test_redo_stem_replaces_one_stem_over_the_same_chords(source):
    redone = render(derive(SOURCE, Operation(specs.REDO_STEM, stem="bass"), seed=33))
    for name in ("drums", "chords", "melody"):
        np.testing.assert_array_equal(redone.stems[name], source.stems[name], err_msg=name)
        assert notes(redone, name) == notes(source, name)
    assert notes(redone, "bass") != notes(source, "bass")
    parts = sum(redone.stems[name] for name in ("drums", "bass", "chords", "melody"))
    np.testing.assert_allclose(redone.stems["mix"], parts, atol=1e-6)
    # Conditioned on the others: the same chords under it.
    piece = ENGINE.arrangement(derive(SOURCE, Operation(specs.REDO_STEM, stem="bass"), seed=33))
    assert piece.chords == ENGINE.arrangement(SOURCE).chords
    assert redone.report["chords"] == "kept" and redone.report["notes"] == len(notes(redone, "bass"))
    with pytest.raises(InvalidArgument, match=r"operation\.stem"):
        render(derive(SOURCE, Operation(specs.REDO_STEM, stem="vocals"), seed=33))


def test_operations_reproduce_from_their_spec(continued):
    again = render(GenerationSpec.from_payload(derive(SOURCE, Operation(specs.CONTINUE, bars=4), seed=9).as_payload()))
    assert again.stems["mix"].tobytes() == continued.stems["mix"].tobytes()


@pytest.mark.parametrize(("prompt", "bars", "start"), [("lofi hip hop with piano", 2, 3.0), ("string quartet", 1, 0.0)])
def test_loop_is_bar_aligned_and_its_seam_is_smooth(prompt, bars, start):
    request = derive(dataclasses.replace(SOURCE, prompt=prompt), Operation(specs.LOOP, bars=bars, start_seconds=start))
    looped = render(request)
    assert looped.stems["mix"].shape == (round(bars * BAR * SAMPLE_RATE), 2)
    assert looped.report["start_seconds"] == pytest.approx(start)
    seam = looped.report["seam_discontinuity"]
    assert seam["sample_step_ratio"] < 3 and seam["spectral_change_ratio"] < 2, seam
    clicked = looped.stems["mix"].copy()
    clicked[:64] += 0.2  # the start jumps away from where the end left off
    assert seam_figures(clicked, SAMPLE_RATE, BAR)["sample_step_ratio"] > 5


def test_loop_of_a_new_piece_needs_no_source():
    looped = render(dataclasses.replace(SOURCE, seed=8, operation=Operation(specs.LOOP, bars=2)))
    assert looped.stems["mix"].shape == (round(2 * BAR * SAMPLE_RATE), 2)
    assert np.abs(looped.stems["mix"]).max() == pytest.approx(mixing.PEAK, abs=1e-3)
    with pytest.raises(InvalidArgument, match="past the piece's end"):
        render(derive(SOURCE, Operation(specs.LOOP, bars=4, start_seconds=6 * BAR)))
