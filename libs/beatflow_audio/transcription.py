"""Sung or hummed audio -> notes (MIDI pitch, onset, offset) and the singer's tuning.

From the pitch track of `beatflow_audio.pitch` (10 ms frames):
1. voicing: the tracker's periodicity, gated by frame energy relative to the loudest part;
2. tuning: the circular mean of the voiced, steady frames' pitch around the semitone grid (vibrato
   is symmetric and glides move fast, so neither pulls it), removed before anything is rounded;
3. notes: a Viterbi path over "silence" plus one state per semitone, where changing note costs far
   more than a vibrato swing can win, so a vibrato of +-50 cents stays one note while a real step
   of a semitone changes note on the frame where it happens;
4. glides: a note change moves back to where the pitch left the previous note, and fragments
   shorter than `MIN_NOTE_SECONDS` join the note they lead into, so a portamento is its target's attack;
5. repeated notes: a note is split where its energy dips and rises again (a re-attack).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import librosa
import numpy as np
import pretty_midi

from beatflow_audio import pitch

MIN_NOTE_SECONDS = 0.08
VOICING_RANGE = (0.2, 0.5)  # periodicity mapped linearly to a voicing probability 0..1 over this range
LOUDNESS_RANGE_DB = 40.0  # frames this far below the loud frames count as silence
SILENCE_DB = -60.0  # and so does anything below this (dBFS)
STEADY_SEMITONES_PER_FRAME = 0.15  # frames changing faster than this are left out of the tuning estimate
NOTE_SPREAD = 0.35  # semitones: how far a frame may sit from its note's centre (vibrato, scoops)
OFF_NOTE_LIKELIHOOD = 0.2  # a voiced frame far from any semitone (mid-glide) still sounds a note, not silence
LIKELIHOOD_FLOOR = 1e-4
NOTE_CHANGE_PROBABILITY = 5e-3  # per frame, to any other note: dearer than a vibrato swing can win
NOTE_START_PROBABILITY = 5e-3  # per frame, from silence
NOTE_END_PROBABILITY = 5e-3  # per frame: passing through silence costs more than changing note
GLIDE_DEPARTURE = 0.3  # semitones away from the previous note: the glide to the next one has started
MAX_GLIDE_SECONDS = 0.2
REATTACK_DIP_DB = 6.0  # an energy dip this deep inside one pitch, rising again, starts a new note
REATTACK_WINDOW_SECONDS = 0.12  # peaks on both sides of the dip are looked for this far


@dataclass(frozen=True)
class TranscribedNote:
    pitch: int  # MIDI note number after tuning correction
    onset: float  # seconds
    offset: float  # seconds
    confidence: float  # 0..1


@dataclass(frozen=True)
class Transcription:
    notes: list[TranscribedNote]
    tuning_cents: float  # the singer's offset from A440 in cents, -50..50
    tracker: str  # which pitch tracker ran: "crepe-tiny", "crepe-full" or "pyin"


def transcribe(mono: np.ndarray, rate: int, *, tracker: str = "auto") -> Transcription:
    """Notes of a monophonic sung, hummed or whistled recording."""
    return notes_from_track(pitch.track(mono, rate, tracker=tracker))


def notes_from_track(track: pitch.PitchTrack) -> Transcription:
    voicing = _voicing(track)
    tuning = estimate_tuning(track.midi, voicing)
    midi = track.midi - tuning
    hop = track.hop_seconds
    shortest = round(MIN_NOTE_SECONDS / hop)
    segments = _attribute_glides(_runs(_note_states(midi, voicing)), midi, round(MAX_GLIDE_SECONDS / hop))
    segments = _split_reattacks(segments, track.rms, round(REATTACK_WINDOW_SECONDS / hop), shortest)
    segments = _drop_short(segments, shortest)
    notes = [
        TranscribedNote(
            pitch=note,
            onset=round(start * hop, 3),
            offset=round(end * hop, 3),
            confidence=round(float(np.mean(voicing[start:end])), 3),
        )
        for start, end, note in segments
    ]
    return Transcription(notes, round(100 * tuning, 1), track.tracker)


def to_midi(
    transcription: Transcription, program: int = pretty_midi.instrument_name_to_program("Voice Oohs")
) -> pretty_midi.PrettyMIDI:
    """The notes as a one-instrument MIDI file; louder where the tracker was surer."""
    melody = pretty_midi.Instrument(program=program, name="melody")
    melody.notes = [
        pretty_midi.Note(velocity=int(40 + 80 * note.confidence), pitch=note.pitch, start=note.onset, end=note.offset)
        for note in transcription.notes
    ]
    midi = pretty_midi.PrettyMIDI()
    midi.instruments.append(melody)
    return midi


def estimate_tuning(midi: np.ndarray, voicing: np.ndarray) -> float:
    """The offset of the pitch track from the equal-tempered grid, in semitones (-0.5..0.5)."""
    if len(midi) < 2:
        return 0.0
    steady = np.abs(np.gradient(midi)) < STEADY_SEMITONES_PER_FRAME
    weights = np.where(steady, voicing, 0.0)
    if weights.sum() <= 0:
        return 0.0
    vector = np.sum(weights * np.exp(2j * np.pi * midi))
    return float(np.angle(vector) / (2 * np.pi))


def _voicing(track: pitch.PitchTrack) -> np.ndarray:
    """Probability 0..1 that each frame is sung."""
    low, high = VOICING_RANGE
    periodic = np.clip((track.periodicity - low) / (high - low), 0.0, 1.0)
    level = librosa.amplitude_to_db(track.rms, ref=1.0, top_db=None)
    loud = np.percentile(level, 95) if len(level) else SILENCE_DB
    audible = (level > loud - LOUDNESS_RANGE_DB) & (level > SILENCE_DB)
    return np.where(audible, periodic, 0.0)


def _note_states(midi: np.ndarray, voicing: np.ndarray) -> np.ndarray:
    """Per frame: -1 for silence, else the MIDI note (Viterbi over silence + semitone states)."""
    voiced = voicing > 0.5
    if not voiced.any():
        return np.full(len(midi), -1)
    lowest, highest = int(np.floor(midi[voiced].min())), int(np.ceil(midi[voiced].max()))
    notes = np.arange(lowest, highest + 1)
    distance = (midi[None, :] - notes[:, None]) / NOTE_SPREAD
    likelihood = voicing[None, :] * (np.exp(-0.5 * distance**2) + OFF_NOTE_LIKELIHOOD) + LIKELIHOOD_FLOOR
    observation = np.vstack([1.0 - voicing + LIKELIHOOD_FLOOR, likelihood])
    path = librosa.sequence.viterbi(np.minimum(observation, 1.0), _transition(len(notes)))
    return np.where(path == 0, -1, lowest + path.astype(int) - 1)


@cache
def _transition(note_count: int) -> np.ndarray:
    """State 0 is silence, states 1..note_count are semitones."""
    transition = np.full((note_count + 1, note_count + 1), NOTE_CHANGE_PROBABILITY / max(1, note_count - 1))
    transition[0, :] = NOTE_START_PROBABILITY / note_count
    transition[1:, 0] = NOTE_END_PROBABILITY
    stay = 1.0 - transition.sum(axis=1) + transition.diagonal()
    np.fill_diagonal(transition, stay)
    return transition


def _runs(states: np.ndarray) -> list[tuple[int, int, int]]:
    """(start frame, end frame exclusive, note) of each stretch of one note."""
    changes = np.flatnonzero(np.diff(states)) + 1
    bounds = np.concatenate([[0], changes, [len(states)]])
    return [(int(a), int(b), int(states[a])) for a, b in itertools.pairwise(bounds) if states[a] >= 0]


def _attribute_glides(
    segments: list[tuple[int, int, int]], midi: np.ndarray, longest: int
) -> list[tuple[int, int, int]]:
    """Moves each note change between touching notes back to where the pitch left the first note
    (at most `longest` frames), so a glide belongs to the note it leads to."""
    moved = list(segments)
    for index in range(1, len(moved)):
        (start_a, end_a, a), (start_b, end_b, b) = moved[index - 1], moved[index]
        if end_a != start_b:
            continue
        direction = np.sign(b - a)
        boundary = start_b
        while (
            boundary - 1 > start_a
            and start_b - boundary < longest
            and direction * (midi[boundary - 1] - a) > GLIDE_DEPARTURE
            and direction * (midi[boundary] - midi[boundary - 1]) > 0
        ):
            boundary -= 1
        moved[index - 1], moved[index] = (start_a, boundary, a), (boundary, end_b, b)
    return moved


def _split_reattacks(
    segments: list[tuple[int, int, int]], rms: np.ndarray, window: int, shortest: int
) -> list[tuple[int, int, int]]:
    """Splits a note where its energy dips by `REATTACK_DIP_DB` below the peaks within `window` frames
    on both sides: the same pitch sung again. Both parts keep at least `shortest` frames."""
    level = librosa.amplitude_to_db(rms, ref=1.0, top_db=None)
    split = []
    for start, end, note in segments:
        cuts = [start]
        for frame in range(start + shortest, end - shortest):
            before = level[max(cuts[-1], frame - window) : frame].max()
            after = level[frame + 1 : min(end, frame + 1 + window)].max()
            is_minimum = level[frame] <= level[frame - 1] and level[frame] < level[frame + 1]
            if is_minimum and min(before, after) - level[frame] >= REATTACK_DIP_DB and frame - cuts[-1] >= shortest:
                cuts.append(frame)
        split += [(a, b, note) for a, b in zip(cuts, [*cuts[1:], end], strict=True)]
    return split


def _drop_short(segments: list[tuple[int, int, int]], shortest: int) -> list[tuple[int, int, int]]:
    """Fragments shorter than `shortest` frames join the note they lead into, else are dropped."""
    kept: list[tuple[int, int, int]] = []
    carry = None  # start of fragments waiting to join the next touching note
    for index, (start, end, note) in enumerate(segments):
        if end - start < shortest:
            following = segments[index + 1] if index + 1 < len(segments) else None
            touching = following is not None and following[0] == end
            carry = (start if carry is None else carry) if touching else None
            continue
        kept.append((start if carry is None else carry, end, note))
        carry = None
    return kept
