"""MusicGen-Melody's loading, chroma conditioning and inference on a tiny random-weight model."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio import codec
from beatflow_audio.theory import Key
from beatflow_generator.engines.musicgen_melody import ChromaSettings, MusicgenMelodyEngine, melody_chroma
from beatflow_generator.spec import GenerationSpec
from tests.generator.test_hum import TUNE, sung


@pytest.fixture(scope="session")
def engine(melody_weights):
    engine = MusicgenMelodyEngine(melody_weights)
    engine.load()
    return engine


def spec(**fields) -> GenerationSpec:
    values = {
        "prompt": "lofi beat",
        "bpm": 100,
        "mood": "",
        "duration_seconds": 1.0,
        "key": Key.parse("C major"),
        "engine": "musicgen-melody",
        "seed": 2,
    }
    return GenerationSpec(**{**values, **fields})


def hum(notes) -> tuple[np.ndarray, int]:
    return codec.decode(sung(notes, 0.5))


def test_chroma_marks_the_sung_pitch_classes():
    samples, rate = hum([60] * 4 + [67] * 4)  # two seconds of C, then two of G
    chroma = melody_chroma(samples, rate, ChromaSettings(sampling_rate=16000, n_fft=2048, hop_length=512))
    assert chroma.shape[0] == 1 and chroma.shape[2] == 12
    assert bool((chroma.sum(dim=2) == 1).all()), "one pitch class per frame"
    classes = chroma[0].argmax(dim=1).tolist()
    third = len(classes) // 3
    assert max(set(classes[3:third]), key=classes[3:third].count) == 0  # C
    assert max(set(classes[-third:-3]), key=classes[-third:-3].count) == 7  # G


def test_follows_the_melody_it_is_given(engine):
    steps = []
    first = engine.render(spec(), lambda f, stage, m: steps.append(f), melody_audio=hum(TUNE))
    again = engine.render(spec(), lambda *_: None, melody_audio=hum(TUNE))
    other = engine.render(spec(), lambda *_: None, melody_audio=hum(list(reversed(TUNE))))
    text_only = engine.render(spec(), lambda *_: None)
    mix = first.stems["mix"]
    assert mix.shape == (16000, 2)
    np.testing.assert_array_equal(mix, again.stems["mix"])
    assert not np.array_equal(mix, other.stems["mix"]), "the melody conditions the output"
    assert not np.array_equal(mix, text_only.stems["mix"])
    assert steps == sorted(steps) and len(steps) >= 100


def test_unconfigured_melody_engine_is_unavailable():
    available, detail = MusicgenMelodyEngine(None).available()
    assert not available and "MUSICGEN_MELODY_MODEL_DIR" in detail
