"""The procedural engine renders real music with sampled instruments: stems, MIDI, seeds, the
requested tempo and key (read by textbook estimators, not the project's analyser), and the
oscillator fallback where no soundfont is installed."""

from __future__ import annotations

import numpy as np
import pytest

from beatflow_audio.theory import Key
from beatflow_generator import spec as specs
from beatflow_generator.engines.procedural.engine import SAMPLE_RATE, ProceduralEngine
from beatflow_generator.spec import GenerationSpec, Note
from bench.corpus.metrics import tempo_hits
from bench.generator import plain_tempo, textbook_key

ENGINE = ProceduralEngine()


def spec(prompt="pop song", bpm=110, key="D major", duration=12.0, seed=1, mood="", melody=()) -> GenerationSpec:
    return GenerationSpec(
        prompt=prompt,
        bpm=bpm,
        mood=mood,
        duration_seconds=duration,
        key=Key.parse(key) if key else None,
        engine="procedural",
        seed=seed,
        melody=melody,
    )


def render(request: GenerationSpec):
    return ENGINE.render(request, lambda *progress: None)


def test_stems_mix_midi_and_renderer():
    rendering = render(spec(prompt="boom bap hip-hop with piano", duration=7.5))
    assert rendering.renderer == "fluidsynth"
    assert set(rendering.stems) == {"drums", "bass", "chords", "melody", "mix"}
    for name, stem in rendering.stems.items():
        assert stem.shape == (round(7.5 * SAMPLE_RATE), 2), name
        assert stem.dtype == np.float32
        assert np.abs(stem).max() > 0.01, f"{name} is silent"
    parts = sum(rendering.stems[n] for n in ("drums", "bass", "chords", "melody"))
    np.testing.assert_allclose(rendering.stems["mix"], parts, atol=1e-6)
    assert np.abs(rendering.stems["mix"]).max() == pytest.approx(10 ** (-1 / 20), abs=1e-3)
    assert set(rendering.midi) == {"drums", "bass", "chords", "melody"}
    chords = rendering.midi["chords"]
    assert chords.instruments[0].program == 0, "'with piano' puts the chords on the acoustic piano"
    assert chords.get_tempo_changes()[1][0] == pytest.approx(110)
    assert rendering.midi["drums"].instruments[0].is_drum
    assert rendering.prompt_reading["style"] == "hiphop"


def test_same_seed_same_bytes_other_seed_other_music():
    first, again, other = render(spec(seed=42)), render(spec(seed=42)), render(spec(seed=43))
    for name in first.stems:
        assert first.stems[name].tobytes() == again.stems[name].tobytes(), name
    assert not np.array_equal(first.stems["melody"], other.stems["melody"])


def test_progress_is_reported_in_order():
    seen = []
    ENGINE.render(spec(duration=5), lambda fraction, stage, message: seen.append((fraction, stage)))
    assert [stage for _, stage in seen] == ["reading", "arranging", "rendering", "mixing"]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


@pytest.mark.parametrize(
    ("prompt", "bpm", "key"),
    [("boom bap hip-hop", 90, "A minor"), ("deep house groove", 124, "F major"), ("dark techno", 130, "D minor")],
)
def test_textbook_analysis_recovers_requested_tempo_and_key(prompt, bpm, key):
    rendering = render(spec(prompt=prompt, bpm=bpm, key=key, duration=16.0, seed=7))
    assert textbook_key(rendering.stems["mix"], SAMPLE_RATE) == Key.parse(key)
    found = plain_tempo(rendering.stems["mix"], SAMPLE_RATE)
    assert tempo_hits(found, bpm)[0], f"{found:.1f} for {bpm}"


def test_engine_chooses_tempo_and_key_from_style_and_mood():
    sad = ENGINE.arrangement(spec(prompt="lofi beat", bpm=0, key="", mood="sad"))
    assert 72 <= sad.bpm <= 88 and sad.key.minor
    assert "mood" in sad.reading.key_reason
    assert not ENGINE.arrangement(spec(prompt="lofi beat", bpm=0, key="", mood="happy")).key.minor
    ambient = ENGINE.arrangement(spec(prompt="ambient", bpm=0, key=""))
    assert 60 <= ambient.bpm <= 80, "ambient is slow"
    tonics = {ENGINE.arrangement(spec(prompt="pop", bpm=0, key="", seed=seed)).key.tonic for seed in range(12)}
    assert len(tonics) >= 6, "the seed varies the tonic"


def test_a_hummed_melody_is_played_note_for_note():
    tune = tuple(Note(0.5 * i, 0.45, pitch) for i, pitch in enumerate((60, 62, 64, 65, 67, 65, 64, 62)))
    rendering = render(spec(prompt="lofi", bpm=120, key="C major", duration=5.0, melody=tune))
    notes = rendering.midi["melody"].instruments[0].notes
    assert [note.pitch for note in notes] == [note.pitch for note in tune]
    assert rendering.melody_notes == tuple(note.pitch for note in tune)
    first_note = rendering.stems["melody"][: SAMPLE_RATE // 2].mean(axis=1)
    spectrum = np.abs(np.fft.rfft(first_note))
    assert abs(np.fft.rfftfreq(len(first_note), 1 / SAMPLE_RATE)[np.argmax(spectrum)] - 261.6) < 3


def test_oscillators_play_when_the_soundfont_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("BEATFLOW_SOUNDFONT", str(tmp_path / "missing.sf2"))
    assert "oscillator" in ENGINE.available()[1]
    request = spec(prompt="boom bap hip-hop", bpm=96, key="A minor", duration=12.0, seed=3)
    rendering, again = render(request), render(request)
    assert rendering.renderer == "oscillators"
    assert set(rendering.stems) == {"drums", "bass", "chords", "melody", "mix"}
    for name in rendering.stems:
        assert rendering.stems[name].tobytes() == again.stems[name].tobytes(), name
    assert textbook_key(rendering.stems["mix"], SAMPLE_RATE) == Key.parse("A minor")
    found = plain_tempo(rendering.stems["mix"], SAMPLE_RATE)
    assert tempo_hits(found, 96)[0], f"{found:.1f} for 96"


def checked(**fields) -> GenerationSpec:
    request = {"prompt": "jazz", "bpm": 0, "mood": "", "duration_seconds": 5.0, "key": None, "engine": "procedural"}
    return specs.check(**{**request, "seed": 0, **fields}, engines={"procedural": 300.0})


def test_a_request_without_a_seed_gets_a_random_one_that_the_job_keeps_and_any_int64_seeds():
    drawn = [checked() for _ in range(3)]
    assert len({request.seed for request in drawn}) == 3 and all(request.seed > 0 for request in drawn)
    assert checked(seed=9).seed == 9
    modal = checked(key=Key.parse("D dorian"))
    assert GenerationSpec.from_payload(modal.as_payload()) == modal, "seed and mode survive the job row"
    negative = ENGINE.arrangement(spec(seed=-5))
    assert negative.parts["melody"].notes != ENGINE.arrangement(spec(seed=5)).parts["melody"].notes
