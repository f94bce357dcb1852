"""Tempo, beats, downbeats and meter on pieces rendered with FluidSynth, whose truth is what was written."""

from __future__ import annotations

import mir_eval
import numpy as np
import pretty_midi
import pytest

from beatflow_audio import soundfont
from beatflow_audio.rhythm import NO_RHYTHM, Rhythm, estimate_rhythm

pytestmark = pytest.mark.skipif(not soundfont.available(), reason="FluidSynth and its soundfont are installed by setup")

RATE = 22050
# I-vi-IV-V and friends as (bass, chord) pairs; the harmony changes on every downbeat.
PROGRESSION = [(36, (60, 64, 67)), (45, (57, 60, 64)), (41, (57, 60, 65)), (43, (59, 62, 67))]


def _waltz(bpm: float, bars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A drum-less 3/4 for strings: a bass note on beat one, the chord on beats two and three."""
    beat = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    bass, strings = pretty_midi.Instrument(program=43), pretty_midi.Instrument(program=48)
    for bar in range(bars):
        root, chord = PROGRESSION[bar % len(PROGRESSION)]
        start = bar * 3 * beat
        bass.notes.append(pretty_midi.Note(95, root, start, start + 2.5 * beat))
        for offset in (1, 2):
            strings.notes += [
                pretty_midi.Note(70, pitch, start + offset * beat, start + (offset + 0.8) * beat) for pitch in chord
            ]
    midi.instruments += [bass, strings]
    beats = np.arange(bars * 3) * beat
    return soundfont.render(midi, RATE).mean(axis=1), beats, beats[::3]


def _band(beats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 4/4 with drums (kick on 1 and 3, snare on 2 and 4, closed hi-hat on eighths), bass and piano,
    playing on the given beat times (a whole number of bars)."""
    midi = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    bass, piano = pretty_midi.Instrument(program=33), pretty_midi.Instrument(program=0)
    for index, (time, beat) in enumerate(zip(beats, np.diff(beats, append=2 * beats[-1] - beats[-2]), strict=True)):
        root, chord = PROGRESSION[index // 4 % len(PROGRESSION)]
        if index % 4 == 0:
            piano.notes += [pretty_midi.Note(65, pitch, time, time + 3.8 * beat) for pitch in chord]
        drums.notes.append(pretty_midi.Note(100, 36 if index % 2 == 0 else 38, time, time + 0.1))
        drums.notes += [pretty_midi.Note(60, 42, time + half, time + half + 0.05) for half in (0, beat / 2)]
        bass.notes.append(pretty_midi.Note(90, root if index % 4 < 2 else root + 7, time, time + 0.9 * beat))
    midi.instruments += [drums, bass, piano]
    return soundfont.render(midi, RATE).mean(axis=1), beats, beats[::4]


def _fiddle_tune(bpm: float, beats: int) -> np.ndarray:
    """A drum-less melody in even, unaccented quarter notes: every beat is struck alike."""
    beat = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    fiddle = pretty_midi.Instrument(program=40)
    scale = [62, 64, 66, 67, 69, 71, 73, 74, 71, 69, 67, 66]
    fiddle.notes += [pretty_midi.Note(90, scale[i % len(scale)], i * beat, (i + 0.9) * beat) for i in range(beats)]
    midi.instruments.append(fiddle)
    return soundfont.render(midi, RATE).mean(axis=1)


def _running_eighths(bpm: float, beats: int) -> np.ndarray:
    """A drum-less reel-like melody in running eighth notes, the notes on the beat played louder."""
    beat = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    fiddle = pretty_midi.Instrument(program=40)
    scale = [62, 64, 66, 67, 69, 71, 73, 74, 71, 69, 67, 66, 64, 66, 67, 69]
    fiddle.notes += [
        pretty_midi.Note(100 if i % 2 == 0 else 75, scale[i % len(scale)], i * beat / 2, (i + 0.9) * beat / 2)
        for i in range(2 * beats)
    ]
    midi.instruments.append(fiddle)
    return soundfont.render(midi, RATE).mean(axis=1)


def _hymn(bpm: float, beats: int) -> np.ndarray:
    """Four-voice chords for organ, one per beat, with an eighth-note passing tone in the alto on every
    third beat: the passing notes fill some half-beats but the beat stays the chord's."""
    beat = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    organ = pretty_midi.Instrument(program=19)
    for index in range(beats):
        bass, chord = PROGRESSION[index % len(PROGRESSION)]
        start = index * beat
        organ.notes += [pretty_midi.Note(80, pitch, start, start + 0.95 * beat) for pitch in (bass, *chord[::2])]
        alto = chord[1]
        if index % 3 == 2:
            organ.notes += [
                pretty_midi.Note(80, alto, start, start + 0.5 * beat),
                pretty_midi.Note(80, alto + 2, start + 0.5 * beat, start + 0.95 * beat),
            ]
        else:
            organ.notes.append(pretty_midi.Note(80, alto, start, start + 0.95 * beat))
    midi.instruments.append(organ)
    return soundfont.render(midi, RATE).mean(axis=1)


@pytest.fixture(scope="module")
def waltz() -> tuple[Rhythm, np.ndarray, np.ndarray]:
    audio, beats, downbeats = _waltz(bpm=132, bars=12)
    return estimate_rhythm(audio, RATE), beats, downbeats


@pytest.fixture(scope="module")
def band() -> tuple[Rhythm, np.ndarray, np.ndarray]:
    audio, beats, downbeats = _band(np.arange(40) * 60 / 104)
    return estimate_rhythm(audio, RATE), beats, downbeats


@pytest.mark.parametrize(("piece", "bpm", "beats_per_bar"), [("waltz", 132, 3), ("band", 104, 4)])
def test_tempo_meter_and_beats_match_the_score(piece, bpm, beats_per_bar, request):
    rhythm, beats, _ = request.getfixturevalue(piece)
    assert abs(rhythm.bpm - bpm) / bpm < 0.04
    assert rhythm.beats_per_bar == beats_per_bar
    assert mir_eval.beat.f_measure(beats, np.array(rhythm.beat_times)) > 0.9
    assert not rhythm.tempo_drifts
    assert 0.0 < rhythm.confidence <= 1.0


@pytest.mark.parametrize("piece", ["waltz", "band"])
def test_every_downbeat_is_found_within_70_ms(piece, request):
    rhythm, beats, downbeats = request.getfixturevalue(piece)
    found = np.array(rhythm.downbeat_times)
    inside = downbeats[(downbeats > found.min() - 0.07) & (downbeats < beats[-1] - 0.5)]  # the tracker may trim ends
    assert len(inside) >= len(downbeats) - 2
    assert np.all(np.min(np.abs(inside[:, None] - found[None, :]), axis=1) < 0.07)
    assert len(found) <= len(downbeats) + 1


@pytest.mark.parametrize(("make", "bpm"), [(_fiddle_tune, 160), (_hymn, 56)])
def test_the_tapped_level_follows_the_music_not_only_the_tempo_prior(make, bpm):
    """Even notes at 160 bpm are heard at 160, not at half speed; chords at 56 bpm with passing eighths are
    heard at 56, not at twice the speed: the tempo prior (median 90 bpm) alone would pick 80 and 112."""
    rhythm = estimate_rhythm(make(bpm, beats=int(bpm / 3)), RATE)
    assert abs(rhythm.bpm - bpm) / bpm < 0.04
    assert abs(rhythm.alternative_bpm / rhythm.bpm - (0.5 if bpm > 100 else 2.0)) < 0.1


@pytest.mark.parametrize("bpm", [92, 138])
def test_running_eighths_are_tapped_on_the_accented_beat(bpm):
    """Neither the eighth notes (184, 276 bpm) nor the half notes: the accented quarter."""
    rhythm = estimate_rhythm(_running_eighths(bpm, beats=int(bpm / 3)), RATE)
    assert abs(rhythm.bpm - bpm) / bpm < 0.04
    assert abs(rhythm.alternative_bpm / rhythm.bpm - 0.5) < 0.05 or abs(rhythm.alternative_bpm / rhythm.bpm - 2) < 0.1


def test_alternative_level_is_a_metrical_relative(band):
    rhythm, _, _ = band
    ratio = max(rhythm.bpm, rhythm.alternative_bpm) / min(rhythm.bpm, rhythm.alternative_bpm)
    assert min(abs(ratio - r) for r in (1.5, 2.0, 3.0)) < 0.1
    assert 0.5 <= rhythm.bpm_weight <= 1.0


def test_an_accelerando_is_followed_and_flagged():
    intervals = np.linspace(60 / 96, 60 / 120, 48)  # 96 -> 120 bpm over 12 bars
    audio, beats, _ = _band(np.concatenate([[0.0], np.cumsum(intervals[:-1])]))
    rhythm = estimate_rhythm(audio, RATE)
    assert rhythm.tempo_drifts
    assert mir_eval.beat.f_measure(beats, np.array(rhythm.beat_times)) > 0.8


def test_silence_a_steady_tone_and_short_audio_have_no_rhythm():
    assert estimate_rhythm(np.zeros(10 * RATE, dtype=np.float32), RATE) == NO_RHYTHM
    hum = 0.3 * np.sin(2 * np.pi * 110 * np.arange(10 * RATE) / RATE)
    assert estimate_rhythm(hum.astype(np.float32), RATE) == NO_RHYTHM
    audio, _, _ = _band(np.arange(4) * 0.5)
    assert estimate_rhythm(audio[:RATE], RATE) == NO_RHYTHM


def test_white_noise_gives_a_clean_low_confidence_result():
    noise = np.random.default_rng(0).normal(0, 0.1, 20 * RATE).astype(np.float32)
    rhythm = estimate_rhythm(noise, RATE)
    numbers = [rhythm.bpm, rhythm.alternative_bpm, rhythm.bpm_weight, rhythm.tempo_drift, rhythm.confidence]
    assert all(np.isfinite(numbers))
    assert rhythm.confidence < 0.3


def test_estimate_is_deterministic():
    audio, _, _ = _waltz(bpm=100, bars=4)
    assert estimate_rhythm(audio, RATE) == estimate_rhythm(audio.copy(), RATE)
