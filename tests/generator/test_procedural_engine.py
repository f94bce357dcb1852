"""The procedural engine renders real music: analysis of its output finds the requested tempo and key."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio.analysis import analyse
from beatflow_audio.theory import Key
from beatflow_generator.engines.procedural.engine import SAMPLE_RATE, ProceduralEngine
from beatflow_generator.spec import GenerationSpec

ENGINE = ProceduralEngine()


def spec(prompt="pop song", bpm=110, key="D major", duration=12.0, seed=1, mood="") -> GenerationSpec:
    return GenerationSpec(
        prompt=prompt,
        bpm=bpm,
        mood=mood,
        duration_seconds=duration,
        key=Key.parse(key) if key else None,
        engine="procedural",
        seed=seed,
    )


def render(request: GenerationSpec):
    return ENGINE.render(request, lambda *progress: None)


def test_stems_and_mix_shape_and_level():
    rendering = render(spec(duration=7.5))
    assert set(rendering.stems) == {"drums", "bass", "chords", "melody", "mix"}
    for name, stem in rendering.stems.items():
        assert stem.shape == (round(7.5 * SAMPLE_RATE), 2), name
        assert stem.dtype == np.float32
        assert np.abs(stem).max() > 0.01, f"{name} is silent"
    parts = sum(rendering.stems[n] for n in ("drums", "bass", "chords", "melody"))
    np.testing.assert_allclose(rendering.stems["mix"], parts, atol=1e-6)
    assert np.abs(rendering.stems["mix"]).max() == pytest.approx(10 ** (-1 / 20), abs=1e-3)


def test_deterministic_by_seed():
    first, again, other = render(spec(seed=42)), render(spec(seed=42)), render(spec(seed=43))
    for name in first.stems:
        np.testing.assert_array_equal(first.stems[name], again.stems[name])
    assert not np.array_equal(first.stems["melody"], other.stems["melody"])


def test_progress_is_reported_in_order():
    seen = []
    ENGINE.render(spec(duration=5), lambda fraction, stage, message: seen.append((fraction, stage)))
    assert [stage for _, stage in seen] == ["drums", "bass", "chords", "melody", "mixing"]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


@pytest.mark.parametrize(
    ("prompt", "bpm", "key"),
    [
        ("boom bap hip-hop", 90, "A minor"),
        ("deep house groove", 124, "F major"),
        ("upbeat pop", 110, "D major"),
        ("rock anthem", 140, "G major"),
        ("dark techno", 130, "D minor"),
        ("trap banger", 150, "C minor"),
    ],
)
def test_analysis_recovers_requested_tempo_and_key(prompt, bpm, key):
    rendering = render(spec(prompt=prompt, bpm=bpm, key=key, duration=20.0, seed=7))
    found = analyse(rendering.stems["mix"], rendering.sample_rate)
    assert found.key.name == key
    assert abs(found.bpm - bpm) / bpm < 0.02, f"{found.bpm:.1f} for {bpm}"


def test_engine_chooses_tempo_and_key_when_asked():
    rendering = render(spec(prompt="lofi beat", bpm=0, key="", mood="sad"))
    assert rendering.bpm == 80
    assert rendering.key.minor
    assert not render(spec(prompt="lofi beat", bpm=0, key="", mood="happy")).key.minor
