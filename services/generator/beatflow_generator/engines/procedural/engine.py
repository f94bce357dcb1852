"""Renders a piece as four stems (drums, bass, chords, melody) and their mix, deterministic by seed."""

from __future__ import annotations

import math

import numpy as np

from beatflow_audio.theory import Key, midi_to_hz
from beatflow_generator.engines.base import Progress, Rendering
from beatflow_generator.engines.procedural import voices
from beatflow_generator.engines.procedural.style import PROGRESSIONS, Genre, genre_for, key_for
from beatflow_generator.spec import GenerationSpec, Note

SAMPLE_RATE = 44100
STEM_GAINS = {"drums": 0.9, "bass": 0.55, "chords": 0.22, "melody": 0.35}
PEAK = 10 ** (-1 / 20)  # the mix peaks at -1 dBFS
FADE_SECONDS = 0.05


class ProceduralEngine:
    name = "procedural"
    max_duration_seconds = 300.0
    melody_input = "notes"
    max_batch = 1

    def available(self) -> tuple[bool, str]:
        return True, "built in; needs no weights"

    def render(self, spec: GenerationSpec, progress: Progress, melody_audio=None) -> Rendering:
        rng = np.random.default_rng(spec.seed)
        genre = genre_for(spec.prompt)
        bpm = spec.bpm or genre.bpm
        key = spec.key or key_for(spec.mood, spec.prompt, rng)
        bar_seconds = 240.0 / bpm
        bars = math.ceil(spec.duration_seconds / bar_seconds)
        frames = round(spec.duration_seconds * SAMPLE_RATE)
        length = math.ceil(bars * bar_seconds * SAMPLE_RATE) + SAMPLE_RATE  # room for tails
        progression = PROGRESSIONS[key.minor][int(rng.integers(len(PROGRESSIONS[key.minor])))]
        chords = [progression[bar % len(progression)] for bar in range(bars)]
        # Sub-generators per stem: changing one stem's choices never shifts another's.
        seeds = rng.integers(0, 2**63, size=4)

        parts = {}
        progress(0.05, "drums", f"{genre.name} at {bpm} bpm")
        parts["drums"] = self._drums(genre, key, bars, bar_seconds, length, np.random.default_rng(seeds[0]))
        progress(0.3, "bass", f"{key.name}")
        parts["bass"] = self._bass(genre, key, chords, bar_seconds, length)
        progress(0.5, "chords", "")
        parts["chords"] = self._chords(key, chords, bar_seconds, length, np.random.default_rng(seeds[2]))
        progress(0.7, "melody", "following the hum" if spec.melody else "")
        melody = spec.melody or self._compose_melody(genre, key, chords, bar_seconds, np.random.default_rng(seeds[3]))
        parts["melody"] = self._melody(melody, length)
        progress(0.9, "mixing", "")

        fade = np.minimum(1, (frames - np.arange(frames)) / (FADE_SECONDS * SAMPLE_RATE)).astype(np.float32)[:, None]
        stems = {name: parts[name][:frames] * STEM_GAINS[name] * fade for name in parts}
        scale = PEAK / max(float(np.abs(sum(stems.values())).max()), 1e-9)
        stems = {name: (stem * scale).astype(np.float32) for name, stem in stems.items()}
        stems["mix"] = sum(stems[name] for name in parts).astype(np.float32)
        return Rendering(stems, SAMPLE_RATE, bpm, key, tuple(note.pitch for note in melody))

    @staticmethod
    def _step_time(step: int, bar: int, bar_seconds: float, swing: float) -> float:
        sixteenth = bar_seconds / 16
        return bar * bar_seconds + step * sixteenth + (swing * sixteenth if step % 2 else 0.0)

    def _drums(self, genre: Genre, key: Key, bars: int, bar_seconds: float, length: int, rng) -> np.ndarray:
        track = np.zeros((length, 2), dtype=np.float32)
        kick = voices.kick(SAMPLE_RATE, midi_to_hz(key.degree_pitch(0, 1)))
        snare = voices.snare(SAMPLE_RATE, rng, midi_to_hz(key.degree_pitch(0, 3)))
        hats = [voices.hat(SAMPLE_RATE, rng) for _ in range(4)]
        open_hat = voices.hat(SAMPLE_RATE, rng, open_=True)
        pattern = genre.drums
        for bar in range(bars):
            for step in range(16):
                start = int(self._step_time(step, bar, bar_seconds, genre.swing) * SAMPLE_RATE)
                accent = 1.0 if step % 4 == 0 else 0.8
                if step in pattern.kick:
                    voices.place(track, kick, start, 1.0 * accent)
                if step in pattern.snare:
                    voices.place(track, snare, start, 0.8)
                if step in pattern.hat:
                    hat = hats[int(rng.integers(len(hats)))]
                    voices.place(track[:, 1], hat, start, 0.35 * accent * rng.uniform(0.8, 1.0))
                    voices.place(track[:, 0], hat, start, 0.25 * accent)
                if step in pattern.open_hat:
                    voices.place(track, open_hat, start, 0.2)
        return track

    def _bass(self, genre: Genre, key: Key, chords: list[int], bar_seconds: float, length: int) -> np.ndarray:
        track = np.zeros((length, 2), dtype=np.float32)
        steps = genre.bass_steps
        for bar, degree in enumerate(chords):
            root = key.degree_pitch(degree, 2)
            for index, step in enumerate(steps):
                following = steps[index + 1] if index + 1 < len(steps) else 16
                seconds = (following - step) * bar_seconds / 16 * 0.95
                start = int(self._step_time(step, bar, bar_seconds, genre.swing) * SAMPLE_RATE)
                voices.place(track, voices.bass_note(root, seconds, SAMPLE_RATE), start)
        return track

    def _chords(self, key: Key, chords: list[int], bar_seconds: float, length: int, rng) -> np.ndarray:
        track = np.zeros((length, 2), dtype=np.float32)
        spread = rng.uniform(4, 9)
        for bar, degree in enumerate(chords):
            start = int(bar * bar_seconds * SAMPLE_RATE)
            for pitch in key.triad(degree, 4):
                voices.place(track[:, 0], voices.pad_note(pitch, bar_seconds, SAMPLE_RATE, -spread), start)
                voices.place(track[:, 1], voices.pad_note(pitch, bar_seconds, SAMPLE_RATE, spread), start)
        return track

    @staticmethod
    def _compose_melody(genre: Genre, key: Key, chords: list[int], bar_seconds: float, rng) -> tuple[Note, ...]:
        """A seeded walk over the scale that lands on chord tones on strong beats."""
        notes = []
        degree = 7  # the tonic an octave up, around C5
        eighth = bar_seconds / 8
        for bar, chord in enumerate(chords):
            chord_tones = [chord + 7, chord + 9, chord + 11]
            for slot in range(8):
                if rng.random() > genre.melody_density and slot % 4:
                    continue
                if slot % 4 == 0:
                    degree = min(chord_tones, key=lambda tone: abs(tone - degree))
                else:
                    degree = int(np.clip(degree + rng.choice([-2, -1, 1, 2]), 4, 14))
                beats = 2 if slot % 4 == 0 and rng.random() < 0.4 else 1
                notes.append(Note(bar * bar_seconds + slot * eighth, eighth * beats * 0.9, key.degree_pitch(degree, 4)))
        return tuple(notes)

    @staticmethod
    def _melody(notes: tuple[Note, ...], length: int) -> np.ndarray:
        track = np.zeros((length, 2), dtype=np.float32)
        for note in notes:
            sound = voices.pluck_note(note.pitch, max(note.length, 0.05), SAMPLE_RATE)
            voices.place(track, sound, int(note.start * SAMPLE_RATE))
        return track
