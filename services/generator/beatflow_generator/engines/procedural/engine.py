"""The procedural engine, an arranger: reads the prompt, writes notes per stem, renders them with
sampled instruments (FluidSynth) or oscillators, and mixes; the same seed and request give the
same bytes."""

from __future__ import annotations

import numpy as np

from beatflow_generator.engines.base import Progress, Rendering
from beatflow_generator.engines.procedural.arrangement import Arrangement, arrange
from beatflow_generator.engines.procedural.prompt import read_prompt
from beatflow_generator.engines.procedural.render import render_stems, renderer_available
from beatflow_generator.spec import GenerationSpec

SAMPLE_RATE = 44100
PEAK = 10 ** (-1 / 20)  # the mix peaks at -1 dBFS
FADE_SECONDS = 0.05
SEED_SPACE = 2**64  # numpy seeds are unsigned; requests carry any int64
# Fixed gains (measured levels would make the bytes depend on float reduction order): drums sit
# under the pitched parts, so the harmony and the line carry the key.
STEM_GAINS = {"drums": 0.45, "bass": 0.6, "chords": 1.3, "melody": 1.8}
OTHER_STEM_GAIN = 1.1


class ProceduralEngine:
    name = "procedural"
    max_duration_seconds = 300.0
    melody_input = "notes"
    max_batch = 1

    def available(self) -> tuple[bool, str]:
        return True, f"built in; renders with {renderer_available()[1]}"

    def arrangement(self, spec: GenerationSpec) -> Arrangement:
        """The notes of the piece `spec` asks for, and how its prompt was read."""
        seed = spec.seed % SEED_SPACE
        rng = np.random.default_rng(seed)
        reading = read_prompt(
            spec.prompt, spec.mood, bpm=spec.bpm, key=spec.key, rng=rng, melody_given=bool(spec.melody)
        )
        return arrange(reading, spec.duration_seconds, seed, spec.melody)

    def render(self, spec: GenerationSpec, progress: Progress, melody_audio=None) -> Rendering:
        progress(0.05, "reading", spec.prompt[:80])
        piece = self.arrangement(spec)
        reading = piece.reading
        progress(0.15, "arranging", f"{reading.style} at {piece.bpm} bpm in {piece.key.name}")
        progress(0.25, "rendering", ", ".join(piece.parts))
        rendered = render_stems(piece.parts, piece.bpm, spec.duration_seconds, SAMPLE_RATE, spec.seed % SEED_SPACE)
        progress(0.9, "mixing", rendered.renderer)
        stems = _mix(rendered.stems, round(spec.duration_seconds * SAMPLE_RATE))
        return Rendering(
            stems=stems,
            sample_rate=SAMPLE_RATE,
            bpm=piece.bpm,
            key=piece.key,
            melody_notes=tuple(note.pitch for note in piece.melody),
            renderer=rendered.renderer,
            midi=piece.midi(),
            prompt_reading=reading.as_dict(),
        )


def _mix(stems: dict[str, np.ndarray], frames: int) -> dict[str, np.ndarray]:
    """Fades the end, scales every stem alike so the mix peaks at -1 dBFS, and adds "mix"."""
    fade = np.minimum(1, (frames - np.arange(frames)) / (FADE_SECONDS * SAMPLE_RATE)).astype(np.float32)[:, None]
    faded = {name: stem * (fade * np.float32(STEM_GAINS.get(name, OTHER_STEM_GAIN))) for name, stem in stems.items()}
    total = np.zeros((frames, 2), dtype=np.float32)
    for stem in faded.values():
        total += stem
    scale = np.float32(PEAK / max(float(np.abs(total).max()), 1e-9))
    scaled = {name: stem * scale for name, stem in faded.items()}
    mix = np.zeros((frames, 2), dtype=np.float32)
    for stem in scaled.values():
        mix += stem
    return {**scaled, "mix": mix}
