"""The procedural engine, an arranger: reads the prompt, writes notes per stem, renders them with
sampled instruments (FluidSynth) or oscillators, and mixes; the same seed and request give the
same bytes. Its creative operations (continue, repaint, redo one stem, loop) live in `operations`."""

from __future__ import annotations

from beatflow_generator.engines.base import MelodyAudio, Progress, Rendering, SourceAudio
from beatflow_generator.engines.procedural import mixing, operations
from beatflow_generator.engines.procedural.arrangement import Arrangement
from beatflow_generator.engines.procedural.render import renderer_available
from beatflow_generator.spec import OPERATION_KINDS, GenerationSpec

SAMPLE_RATE = mixing.SAMPLE_RATE


class ProceduralEngine:
    name = "procedural"
    max_duration_seconds = 300.0
    melody_input = "notes"
    max_batch = 1
    operations: frozenset[str] = frozenset(OPERATION_KINDS)
    source_input = "audio"  # splices into the source commit's stems; re-renders the source from its spec without them

    def available(self) -> tuple[bool, str]:
        return True, f"built in; renders with {renderer_available()[1]}"

    def arrangement(self, spec: GenerationSpec) -> Arrangement:
        """The notes of the piece `spec` asks for, and how its prompt was read (nothing is rendered)."""
        return operations.piece(spec)

    def stems(self, spec: GenerationSpec) -> tuple[str, ...]:
        """The stems `spec` renders, "mix" aside (what a redo_stem on it may name)."""
        return tuple(operations.piece(spec).parts)

    def render(
        self,
        spec: GenerationSpec,
        progress: Progress,
        melody_audio: MelodyAudio | None = None,
        source_audio: SourceAudio | None = None,
    ) -> Rendering:
        performance = operations.perform(spec, progress, source_audio)
        piece = performance.piece
        return Rendering(
            stems=mixing.with_mix(performance.stems),
            sample_rate=SAMPLE_RATE,
            bpm=piece.bpm,
            key=piece.key,
            melody_notes=tuple(note.pitch for note in piece.melody),
            renderer=performance.renderer,
            midi=piece.midi(),
            prompt_reading=piece.reading.as_dict(),
            report=performance.report,
            mix_scale=float(performance.scale),
        )
